-- The next rows of the window (tick, next_tick]: transactions that next_tick sees as done and
-- tick did not, in (txid, seq) order from the position. Such a transaction either began after
-- tick (txid >= its xmax) or was running then (its xip list): an index range scan read in order
-- and stopped at the limit, and one index lookup per transaction that was running (none when
-- the list is empty, the usual case), however long another transaction stays open. The raw row,
-- for consume.sql or, when that fails on a value, for the sanitizer.
-- The first scan starts at one row-valued bound, the later of tick's xmax and the position: a
-- btree cannot tell which of a scalar `txid >=` and a row `(txid, seq) >` is stronger, and when it
-- kept the row bound it read every consumed row still in the table before the window (7 ms a
-- batch with 500,000 consumed rows waiting for the TRUNCATE, against 1.5 ms).
SELECT w.txid, w.seq, w.tbl, w.op, w.at, w.meta, w.data{data_cast} AS d, NULL::jsonb AS notes
FROM (
    (SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data
     FROM skene.queue q
     WHERE (q.txid, q.seq) > (
               CASE WHEN %(pos_txid)s::xid8 >= pg_snapshot_xmax(%(tick)s::pg_snapshot)
                    THEN %(pos_txid)s::xid8 ELSE pg_snapshot_xmax(%(tick)s::pg_snapshot) END,
               CASE WHEN %(pos_txid)s::xid8 >= pg_snapshot_xmax(%(tick)s::pg_snapshot)
                    THEN %(pos_seq)s::bigint ELSE -1 END)
       AND q.txid < pg_snapshot_xmax(%(next_tick)s::pg_snapshot)
       AND pg_visible_in_snapshot(q.txid, %(next_tick)s::pg_snapshot){skip}
     ORDER BY q.txid, q.seq
     LIMIT %(limit)s)
    UNION ALL
    (SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data
     FROM unnest(ARRAY(SELECT pg_snapshot_xip(%(tick)s::pg_snapshot))) AS x(txid)
     CROSS JOIN LATERAL (
         SELECT q.txid, q.seq, q.tbl, q.op, q.at, q.meta, q.data
         FROM skene.queue q
         WHERE q.txid = x.txid
           AND (q.txid, q.seq) > (%(pos_txid)s::xid8, %(pos_seq)s::bigint)
           AND pg_visible_in_snapshot(q.txid, %(next_tick)s::pg_snapshot){skip}
         ORDER BY q.txid, q.seq
         LIMIT %(limit)s  -- also keeps this a lookup per transaction, never a join over the queue
     ) q
     ORDER BY q.txid, q.seq
     LIMIT %(limit)s)
) w
ORDER BY w.txid, w.seq
LIMIT %(limit)s
