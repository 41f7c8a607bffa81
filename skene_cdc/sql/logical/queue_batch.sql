-- The start of a writer batch: the slot's resume point moves in the same transaction as the
-- rows (so a replayed change is recognised exactly), and the queue table is read after this
-- transaction has its id (see rotation.py).
UPDATE skene.replication SET
    last_lsn = coalesce(%(last_lsn)s::pg_lsn, last_lsn),
    last_seq = coalesce(%(last_seq)s, last_seq)
WHERE slot = %(slot)s
RETURNING 'queue_' || pg_sequence_last_value('skene.queue_rotation') AS "table"
