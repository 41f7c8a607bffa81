-- A new tick, and whether anything can have happened since the last one (a snapshot equal to
-- it means no transaction started or ended: nothing to read, nothing to write).
SELECT pg_current_snapshot()::text AS next_tick,
       pg_current_snapshot()::text <> %(tick)s AS moved
