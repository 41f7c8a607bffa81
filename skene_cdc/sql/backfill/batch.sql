-- One batch of an activity table's existing rows into the capture queue, as the capture trigger
-- would have written them (the same column selection), with fields that mark them as backfill.
-- Keyset-paginated on {key}; {queue} is the current queue table (read after this transaction took
-- its id, see rotation.py).
--
-- Only row versions written before capture began are imported: their writer (xmin) is visible in
-- the snapshot recorded when the trigger was installed (skene.meta 'capture_start:<table>');
-- anything later went through the trigger. xmin is a 32-bit xid: it is widened to xid8 in the
-- epoch that puts it at or below the current transaction id. A pre-capture row updated since
-- has a newer writer and is skipped: its update event already counts as activity.
-- Rows without a user are not activity; rows without a timestamp are kept but not counted as
-- activity (their time is unknown, and "now" would make a dormant user look active).
WITH cur AS (
    SELECT pg_current_xact_id()::text::bigint AS x
), batch AS (
    SELECT {key} AS k, to_json(t) AS row_,
           pg_visible_in_snapshot(
               (CASE WHEN t.xmin::text::bigint <= (cur.x & 4294967295)
                     THEN ((cur.x >> 32) << 32) | t.xmin::text::bigint
                     ELSE (((cur.x >> 32) - 1) << 32) | t.xmin::text::bigint
                END)::text::xid8,
               %(capture_start)s::pg_snapshot) AS before_capture
    FROM {table} AS t, cur
    WHERE {after}
    ORDER BY {key}
    LIMIT %(limit)s
), kept AS (
    SELECT b.k, b.row_,
           (SELECT json_object_agg(j.key, j.value) FROM json_each(b.row_) j
             WHERE %(column_mode)s = 'all'
                OR (j.key = ANY (%(column_list)s::text[])) = (%(column_mode)s = 'include')) AS data
    FROM batch b
    WHERE b.before_capture AND b.row_ ->> %(user_col)s IS NOT NULL
), ins AS (
    INSERT INTO skene.{queue} (tbl, op, data, meta)
    SELECT %(relid)s, 'insert', k.data,
           jsonb_build_object('external_id', 'backfill:' || %(table_name)s || ':' || k.k::text,
                              'activity', k.row_ ->> %(ts_col)s IS NOT NULL)
    FROM kept k
    ORDER BY k.k
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS scanned,
       (SELECT count(*) FROM ins) AS inserted,
       (SELECT b.k::text AS last FROM batch b ORDER BY b.k DESC LIMIT 1) AS last_key
