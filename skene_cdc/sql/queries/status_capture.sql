SELECT c.name AS cursor, c.processed, c.updated_at AS checkpoint_at, c.event_id AS checkpoint_event,
       c.last_error, c.last_error_at,
       (SELECT count(*) FROM (
            SELECT 1 FROM skene.events e WHERE (e.txid, e.id) > (c.txid, c.event_id)
            LIMIT 1000000) b) AS backlog,
       (SELECT min(e.captured_at) FROM (
            SELECT captured_at FROM skene.events e WHERE (e.txid, e.id) > (c.txid, c.event_id)
            ORDER BY e.txid, e.id LIMIT 1) e) AS oldest_pending_at,
       (SELECT max(id) FROM skene.events) AS last_event_id,
       (SELECT captured_at FROM skene.events ORDER BY id DESC LIMIT 1) AS last_event_at
FROM skene.cursors c
ORDER BY c.name
