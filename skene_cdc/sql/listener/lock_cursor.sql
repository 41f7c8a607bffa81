-- One consumer per cursor at a time, across listeners; released at commit. An advisory lock, not
-- SELECT ... FOR UPDATE, so the batch transaction takes no xid before it reads.
SELECT pg_try_advisory_xact_lock(hashtext('skene.cursor'), hashtext(%(cursor)s)) AS locked
