-- The history and the queue on disk: how much, since which day, kept how long (the retention
-- the listener last applied, from skene.meta), and the recent daily growth.
WITH parts AS (
    SELECT to_date(substr(c.relname, 8), 'YYYYMMDD') AS day, pg_total_relation_size(c.oid) AS bytes
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'skene.events'::regclass AND c.relname ~ '^events_[0-9]{8}$'
)
SELECT (SELECT count(*) FROM parts) AS partitions,
       (SELECT min(day) FROM parts) AS oldest_day,
       (SELECT max(day) FROM parts) AS newest_day,
       (SELECT coalesce(sum(bytes), 0) FROM parts)::bigint AS history_bytes,
       -- the full days just before today, for the rate
       (SELECT round(avg(bytes)) FROM parts
         WHERE day < (now() AT TIME ZONE 'UTC')::date
           AND day >= (now() AT TIME ZONE 'UTC')::date - 3)::bigint AS bytes_per_day,
       (pg_total_relation_size('skene.queue_0') + pg_total_relation_size('skene.queue_1')
        + pg_total_relation_size('skene.queue_2'))::bigint AS queue_bytes,
       (SELECT count(*) FROM (SELECT 1 FROM skene.queue_pending LIMIT 1000000) q) AS queue_depth,
       (SELECT value FROM skene.meta WHERE key = 'events.retention') AS retention,
       (SELECT count(*) FROM skene.quarantine WHERE replayed_at IS NULL) AS quarantined
