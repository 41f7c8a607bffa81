-- The listener rebuilding skene.users: give up after 2 s rather than wait for a lock the app's
-- migration holds (or make the app's next statement wait behind this one).
SET LOCAL lock_timeout = '2s'
