-- The next rows of the window (tick, next_tick]: transactions that next_tick sees as done and
-- tick did not, in (txid, seq) order from the position. Such a transaction either began after
-- tick (txid >= its xmax) or was running then (its xip list): two index range scans, each read
-- in order and stopped at the limit, however long another transaction stays open. The raw row,
-- for consume.sql or, when that fails on a value, for the sanitizer.
SELECT w.txid, w.seq, w.tbl, w.op, w.at, w.meta, w.data{data_cast} AS d, NULL::jsonb AS notes
FROM (
    (SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data
     FROM skene.queue q
     WHERE q.txid >= pg_snapshot_xmax(%(tick)s::pg_snapshot)
       AND q.txid < pg_snapshot_xmax(%(next_tick)s::pg_snapshot)
       AND (q.txid, q.seq) > (%(pos_txid)s::xid8, %(pos_seq)s::bigint)
       AND pg_visible_in_snapshot(q.txid, %(next_tick)s::pg_snapshot){skip}
     ORDER BY q.txid, q.seq
     LIMIT %(limit)s)
    UNION ALL
    (SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data
     FROM skene.queue q
     WHERE q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(%(tick)s::pg_snapshot)))
       AND (q.txid, q.seq) > (%(pos_txid)s::xid8, %(pos_seq)s::bigint)
       AND pg_visible_in_snapshot(q.txid, %(next_tick)s::pg_snapshot){skip}
     ORDER BY q.txid, q.seq
     LIMIT %(limit)s)
) w
ORDER BY w.txid, w.seq
LIMIT %(limit)s
