-- The start of a writer batch: the slot's resume point moves in the same transaction as the
-- rows (so a replayed change is recognised exactly), and the queue table follows from this
-- transaction's id (skene.queue_part). Like the capture triggers, the batch wakes a sleeping
-- consumer (NOTIFY only while skene.wake says one sleeps), else an idle listener would notice
-- the first changes after a quiet spell only at its next poll_interval.
UPDATE skene.replication SET
    last_lsn = coalesce(%(last_lsn)s::pg_lsn, last_lsn),
    last_seq = coalesce(%(last_seq)s, last_seq)
WHERE slot = %(slot)s
RETURNING 'queue_' || skene.queue_part(pg_current_xact_id()) AS "table",
    (SELECT true FROM (SELECT pg_notify('skene_events', '')) n
     WHERE pg_sequence_last_value('skene.wake'::regclass)::float8 > date_part('epoch', now()))
    AS woke
