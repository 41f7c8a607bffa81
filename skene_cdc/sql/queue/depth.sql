-- Rows waiting in the queue (after the consumer's tick), and the oldest one's age.
SELECT count(*) AS depth, min(q.at) AS oldest_at
FROM skene.queue q
CROSS JOIN (SELECT tick FROM skene.cursors WHERE name = %(cursor)s) c
WHERE (q.txid >= pg_snapshot_xmax(c.tick) OR q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(c.tick))))
  AND NOT pg_visible_in_snapshot(q.txid, c.tick)
