-- One batch: rows of the queue (or the sanitizer's repaired copies of them) become events. A
-- captured row is read by its table's registration in skene.captured_tables (user id, event
-- name and event-time columns, activity or not); other rows carry their fields in `meta`. The
-- events of days that have a partition go into the history here, the activity rollups are
-- brought up to date from them (set-based, in the batch's transaction: exactly once), and all of
-- them go back to the listener for the loop handlers. `missing` names mapped columns a row lacked
-- (the app renamed or dropped one): the listener says so once.
WITH src AS ({source}),
ev AS MATERIALIZED (
    -- ids in (txid, seq) order: nextval is taken over rows already sorted
    SELECT nextval('skene.events_id_seq') AS id, x.* FROM (
    SELECT s.txid, s.seq,
           coalesce(t.at, s.at) AS occurred_at,
           coalesce(s.meta ->> 'source', 'trigger') AS source,
           coalesce(ct.table_name, s.meta ->> 'table_name') AS table_name,
           s.op,
           CASE WHEN s.meta ? 'user_id' THEN s.meta ->> 'user_id'
                ELSE s.d ->> ct.user_id_column END AS user_id,
           coalesce(s.meta ->> 'event', s.d ->> ct.event_column,
                    substr(ct.table_name, strpos(ct.table_name, '.') + 1) || '.' || s.op) AS event,
           coalesce((s.meta ->> 'activity')::boolean,
                    ct.role = 'activity' AND s.op IN ('insert', 'update'), false) AS activity,
           s.d AS data, s.meta -> 'old' AS old_data, (s.meta ->> 'lsn')::pg_lsn AS lsn,
           (s.meta ->> 'lseq')::integer AS lseq, s.meta ->> 'external_id' AS external_id,
           CASE WHEN t.raw IS NOT NULL AND t.at IS NULL
                THEN coalesce(s.notes, jsonb_build_object()) || jsonb_build_object('occurred_at', t.raw)
                ELSE s.notes END AS notes,
           CASE WHEN s.d IS NULL OR ct.table_name IS NULL THEN NULL
                ELSE array_remove(ARRAY[
                    CASE WHEN NOT s.d ? ct.user_id_column THEN ct.user_id_column END,
                    CASE WHEN NOT s.d ? ct.timestamp_column THEN ct.timestamp_column END,
                    CASE WHEN NOT s.d ? ct.event_column THEN ct.event_column END], NULL)
           END AS missing
    FROM src s
    LEFT JOIN skene.captured_tables ct ON ct.relid = s.tbl
    CROSS JOIN LATERAL (
        SELECT r.raw, {event_time} AS at
        FROM (SELECT coalesce(s.meta ->> 'occurred_at', s.d ->> ct.timestamp_column) AS raw) r
    ) t
    ORDER BY s.txid, s.seq) x
),
stored AS (
    INSERT INTO skene.events (id, txid, occurred_at, source, table_name, op, user_id, event,
                              activity, data, old_data, lsn, seq, external_id, notes)
    SELECT id, txid, occurred_at, source, table_name, op, user_id, event, activity, data,
           old_data, lsn, lseq, external_id, notes
    FROM ev
    WHERE (occurred_at AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
),
act AS (
    SELECT user_id, occurred_at, coalesce(event, '') AS event, data, txid, seq
    FROM ev WHERE activity AND user_id IS NOT NULL
),
-- Daily counts per (user, UTC day, event). Sorted input keeps concurrent writers deadlock-free.
daily AS (
    INSERT INTO skene.activity_daily AS d (user_id, day, event, n)
    SELECT user_id, (occurred_at AT TIME ZONE 'UTC')::date, event, count(*)
    FROM act GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (user_id, day, event) DO UPDATE SET n = d.n + excluded.n
),
-- First and last activity per user; the last one's event and data (ties: the later change).
latest AS (
    INSERT INTO skene.user_activity AS a
        (user_id, first_seen_at, last_activity_at, last_event, last_event_data)
    SELECT DISTINCT ON (user_id) user_id, min(occurred_at) OVER (PARTITION BY user_id),
           occurred_at, event, data
    FROM act ORDER BY user_id, occurred_at DESC, txid DESC, seq DESC
    ON CONFLICT (user_id) DO UPDATE SET
        first_seen_at = least(a.first_seen_at, excluded.first_seen_at),
        last_activity_at = greatest(a.last_activity_at, excluded.last_activity_at),
        last_event = CASE WHEN excluded.last_activity_at >= a.last_activity_at
                          THEN excluded.last_event ELSE a.last_event END,
        last_event_data = CASE WHEN excluded.last_activity_at >= a.last_activity_at
                               THEN excluded.last_event_data ELSE a.last_event_data END,
        updated_at = now()
),
-- Per (user, event): how often, first and last (what `stopped` and `milestone` read).
per_event AS (
    INSERT INTO skene.user_events AS x (user_id, event, first_at, last_at, n)
    SELECT user_id, event, min(occurred_at), max(occurred_at), count(*)
    FROM act GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, event) DO UPDATE
    SET first_at = least(x.first_at, excluded.first_at),
        last_at = greatest(x.last_at, excluded.last_at), n = x.n + excluded.n
)
SELECT ev.id, ev.txid::text AS txid_text, ev.txid::text::bigint AS txid, ev.seq AS qseq,
       ev.occurred_at, now() AS captured_at, ev.source, ev.table_name, ev.op, ev.user_id,
       ev.event, ev.activity, ev.data::text AS data_text, ev.external_id, ev.notes, ev.missing,
       (ev.occurred_at AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[]) AS stored,
       ev.old_data, ev.lsn::text AS lsn, ev.lseq
FROM ev
ORDER BY ev.txid, ev.seq
