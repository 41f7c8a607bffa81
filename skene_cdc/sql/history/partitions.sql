-- The day partitions of skene.events (named events_YYYYMMDD), with their size.
SELECT c.relname AS name, to_date(substr(c.relname, 8), 'YYYYMMDD') AS day,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'skene.events'::regclass AND c.relname ~ '^events_[0-9]{8}$'
ORDER BY 2
