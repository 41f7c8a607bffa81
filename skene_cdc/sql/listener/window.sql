-- The next rows of the window (tick, next_tick]: transactions that next_tick sees as done and
-- tick did not, in (txid, seq) order from the position. Such a transaction is either one tick saw
-- in progress (its xip list) or one that began after it (txid >= its xmax), which is what lets the
-- index serve this read however long another transaction stays open. The raw row, for the
-- statement in consume.sql or, when that fails on a value, for the sanitizer.
SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data{data_cast} AS d, NULL::jsonb AS notes
FROM skene.queue q
WHERE q.txid < pg_snapshot_xmax(%(next_tick)s::pg_snapshot)
  AND (q.txid >= pg_snapshot_xmax(%(tick)s::pg_snapshot)
       OR q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(%(tick)s::pg_snapshot))))
  AND pg_visible_in_snapshot(q.txid, %(next_tick)s::pg_snapshot)
  AND NOT pg_visible_in_snapshot(q.txid, %(tick)s::pg_snapshot)
  AND (q.txid, q.seq) > (%(pos_txid)s::xid8, %(pos_seq)s::bigint)
{skip}ORDER BY q.txid, q.seq
LIMIT %(limit)s
