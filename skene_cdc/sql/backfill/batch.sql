-- One batch of an activity table's existing rows into skene.events, written as the capture
-- trigger writes an insert. Rows already captured (by the trigger since `migrate`, or by an earlier
-- backfill) are skipped, so running it again adds nothing. Keyset-paginated on {key}.
-- Rows without a user are not activity; rows without a timestamp are kept but not counted as
-- activity (their time is unknown, and "now" would make a dormant user look active).
WITH batch AS (
    SELECT {key} AS k, to_jsonb(t) AS row_
    FROM {table} AS t
    WHERE {after}
    ORDER BY {key}
    LIMIT %(limit)s
), fresh AS (
    SELECT b.k, b.row_ FROM batch b
    WHERE b.row_ ->> %(user_col)s IS NOT NULL
      AND NOT EXISTS (
        SELECT 1 FROM skene.events e
        WHERE e.user_id = b.row_ ->> %(user_col)s
          AND e.table_name = %(table_name)s
          AND e.op = 'insert'
          AND {match})
), ins AS (
    INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at, activity, data,
                              external_id)
    SELECT 'trigger', %(table_name)s, 'insert', f.row_ ->> %(user_col)s,
           coalesce(f.row_ ->> %(event_col)s, %(default_event)s),
           coalesce((f.row_ ->> %(ts_col)s)::timestamptz, now()),
           f.row_ ->> %(ts_col)s IS NOT NULL,
           f.row_,
           'backfill:' || %(table_name)s || ':' || f.k::text
    FROM fresh f
    ORDER BY f.k
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS scanned,
       (SELECT count(*) FROM ins) AS inserted,
       (SELECT b.k::text AS last FROM batch b ORDER BY b.k DESC LIMIT 1) AS last_key
