-- One batch of an activity table's existing rows into skene.events, written as the capture
-- trigger writes an insert. Keyset-paginated on {key}.
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
    SELECT {key} AS k, to_jsonb(t) AS row_,
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
), ins AS (
    INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at, activity, data,
                              external_id)
    SELECT 'trigger', %(table_name)s, 'insert', b.row_ ->> %(user_col)s,
           coalesce(b.row_ ->> %(event_col)s, %(default_event)s),
           coalesce((b.row_ ->> %(ts_col)s)::timestamptz, now()),
           b.row_ ->> %(ts_col)s IS NOT NULL,
           b.row_,
           'backfill:' || %(table_name)s || ':' || b.k::text
    FROM batch b
    WHERE b.before_capture AND b.row_ ->> %(user_col)s IS NOT NULL
    ORDER BY b.k
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS scanned,
       (SELECT count(*) FROM ins) AS inserted,
       (SELECT b.k::text AS last FROM batch b ORDER BY b.k DESC LIMIT 1) AS last_key
