-- The listener's checkpoint row for its slot: (last_lsn, last_seq) is the newest change written
-- to the queue (moved in the same transaction), flushed_lsn where streaming resumes.
INSERT INTO skene.replication AS r (slot, heartbeat_interval)
VALUES (%(slot)s, make_interval(secs => %(interval)s))
ON CONFLICT (slot) DO UPDATE SET heartbeat_interval = EXCLUDED.heartbeat_interval
RETURNING r.last_lsn::text AS state_lsn, r.last_seq AS state_seq, r.flushed_lsn::text AS flushed_lsn
