-- A non-transactional logical message: decoded at once, so an idle slot still moves forward and
-- the listener can measure how long a change takes to reach it.
WITH m AS (
    SELECT clock_timestamp() AS at
), emitted AS (
    SELECT m.at, pg_logical_emit_message(
               false, %(prefix)s, json_build_object('slot', %(slot)s::text, 'at', m.at)::text) AS lsn
    FROM m
)
UPDATE skene.replication SET heartbeat_emitted_at = emitted.at
FROM emitted
WHERE slot = %(slot)s
RETURNING emitted.lsn::text AS lsn
