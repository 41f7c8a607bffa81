-- Per cursor: what it has done, what waits for it (capped count) and since when, what it
-- repaired or quarantined, and its last error.
SELECT c.name AS cursor, c.processed, c.updated_at AS checkpoint_at,
       (SELECT last_value FROM skene.events_id_seq) AS checkpoint_event,
       c.last_error, c.last_error_at, c.repaired, c.quarantined,
       (SELECT count(*) FROM (SELECT 1 FROM skene.queue_pending p WHERE p.cursor = c.name
                              LIMIT 1000000) b) AS backlog,
       (SELECT min(p.at) FROM skene.queue_pending p WHERE p.cursor = c.name) AS oldest_pending_at,
       (SELECT last_value FROM skene.events_id_seq) AS last_event_id,
       c.updated_at AS last_event_at
FROM skene.cursors c
ORDER BY c.name
