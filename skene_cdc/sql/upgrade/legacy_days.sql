-- The UTC days of the next chunk of old events, so their partitions exist before they move.
SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day
FROM (SELECT occurred_at FROM skene.events_legacy ORDER BY id LIMIT %(n)s) c
