-- The listener's checkpoint row for its slot, and the newest logical event actually written (the
-- two agree unless someone edited one of them; the higher one wins, so nothing is written twice).
WITH s AS (
    INSERT INTO skene.replication AS r (slot, heartbeat_interval)
    VALUES (%(slot)s, make_interval(secs => %(interval)s))
    ON CONFLICT (slot) DO UPDATE SET heartbeat_interval = EXCLUDED.heartbeat_interval
    RETURNING r.last_lsn, r.last_seq, r.flushed_lsn
), e AS (
    SELECT lsn, seq FROM skene.events WHERE lsn IS NOT NULL ORDER BY lsn DESC, seq DESC LIMIT 1
)
SELECT s.last_lsn::text AS state_lsn, s.last_seq AS state_seq, s.flushed_lsn::text AS flushed_lsn,
       e.lsn::text AS event_lsn, e.seq AS event_seq
FROM s LEFT JOIN e ON true
