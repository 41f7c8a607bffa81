-- The next batch after the cursor, in (txid, id) order, only from transactions older than every
-- transaction still running (the snapshot's xmin): those can never gain another row, so nothing
-- committed late is ever skipped. A long-open transaction delays the batch; it cannot break it.
SELECT e.id, e.txid::text::bigint AS txid, e.occurred_at, e.captured_at, e.source, e.table_name,
       e.op, e.user_id, e.event, e.activity, e.data, e.external_id
FROM skene.events e
CROSS JOIN (SELECT txid, event_id FROM skene.cursors WHERE name = %(cursor)s) c
WHERE (e.txid, e.id) > (c.txid, c.event_id)
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.txid, e.id
LIMIT %(limit)s
