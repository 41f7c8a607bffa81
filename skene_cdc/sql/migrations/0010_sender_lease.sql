-- skene 0010: a delivery being sent names its sender, which holds a session advisory lock for as
-- long as it lives; when that lock is gone (the process died, its connection with it) another
-- sender takes the delivery over at once instead of waiting for the lease to run out.
ALTER TABLE skene.deliveries ADD COLUMN claimed_by integer;
