-- skene 0008: skene.events becomes a history partitioned by day, which the listener fills from
-- the queue in its batch transaction and from which retention drops whole days.
--
-- The old table is renamed, never rewritten here: its rows move into the new history in chunks
-- after this migration (`skene-cdc migrate` does it, with progress), so no lock is held for
-- long. 0007 already pointed the capture trigger at the queue, so the app no longer writes here;
-- a transaction that still does (begun before 0007) makes this wait at most lock_timeout.
SET LOCAL lock_timeout = '5s';
ALTER TABLE skene.events RENAME TO events_legacy;
ALTER INDEX skene.events_pkey RENAME TO events_legacy_pkey;
ALTER SEQUENCE skene.events_id_seq RENAME TO events_legacy_id_seq;
ALTER INDEX skene.events_cursor_idx RENAME TO events_legacy_cursor_idx;
ALTER INDEX skene.events_user_idx RENAME TO events_legacy_user_idx;
ALTER INDEX skene.events_external_idx RENAME TO events_legacy_external_idx;
ALTER INDEX skene.events_logical_key RENAME TO events_legacy_logical_key;
ALTER TABLE skene.events_legacy RENAME CONSTRAINT events_source_check TO events_legacy_source_check;
ALTER TABLE skene.events_legacy RENAME CONSTRAINT events_op_check TO events_legacy_op_check;

CREATE SEQUENCE skene.events_id_seq;
SELECT setval('skene.events_id_seq', coalesce((SELECT max(id) FROM skene.events_legacy), 0) + 1,
              false);

-- The same columns as before, so psql queries and SQL conditions read it unchanged. `notes`
-- says what capture could not keep as it was (a NUL in a string, a number jsonb cannot hold, an
-- event time outside any calendar).
CREATE TABLE skene.events (
    id          bigint      NOT NULL DEFAULT nextval('skene.events_id_seq'),
    txid        xid8        NOT NULL,
    occurred_at timestamptz NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    table_name  text,
    op          text        NOT NULL,
    user_id     text,
    event       text,
    activity    boolean     NOT NULL DEFAULT false,
    data        jsonb,
    old_data    jsonb,
    lsn         pg_lsn,
    seq         integer,
    external_id text,
    notes       jsonb
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE skene.events_id_seq OWNED BY skene.events.id;
CREATE INDEX events_user_idx ON skene.events (user_id, occurred_at);
COMMENT ON TABLE skene.events IS
    'Captured changes and ingested events, one partition per UTC day (events.retention drops old days).';

-- Events from outside PostgreSQL (Stripe event ids, Redis Stream entry ids) are recognised here,
-- so a redelivery is a no-op; rows older than the retention are forgotten with the history.
CREATE TABLE skene.external_events (
    source      text        NOT NULL,
    external_id text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_id)
);
INSERT INTO skene.external_events (source, external_id, received_at)
SELECT source, external_id, captured_at FROM skene.events_legacy
WHERE external_id IS NOT NULL AND external_id NOT LIKE 'backfill:%'
ON CONFLICT DO NOTHING;

-- A row the consumer could not process, kept whole with the error; everything else went on.
-- `skene-cdc quarantine replay` puts it back in the queue once the cause is fixed.
CREATE TABLE skene.quarantine (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cursor         text        NOT NULL,
    txid           xid8        NOT NULL,
    seq            bigint      NOT NULL,
    tbl            oid,
    table_name     text,
    op             text        NOT NULL,
    at             timestamptz NOT NULL,
    data           text,
    meta           jsonb,
    error          text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz
);

-- The old rows the listener had not consumed yet go through the queue like any new change, as
-- rows that carry their own fields; the consumed ones move into the history after this.
INSERT INTO skene.queue_0 (op, at, data, meta)
SELECT e.op, e.captured_at, e.data::json,
       jsonb_strip_nulls(jsonb_build_object(
           'source', e.source, 'table_name', e.table_name, 'user_id', e.user_id,
           'event', e.event, 'activity', e.activity, 'occurred_at', e.occurred_at,
           'external_id', e.external_id, 'lsn', e.lsn, 'lseq', e.seq, 'old', e.old_data,
           'legacy_id', e.id))
FROM skene.events_legacy e
LEFT JOIN skene.cursors c ON c.name = 'main'
WHERE c.name IS NULL OR (e.txid, e.id) > (c.txid, c.event_id)
ORDER BY e.txid, e.id;
DELETE FROM skene.events_legacy e USING skene.cursors c
WHERE c.name = 'main' AND (e.txid, e.id) > (c.txid, c.event_id);
DELETE FROM skene.events_legacy e WHERE NOT EXISTS (SELECT 1 FROM skene.cursors WHERE name = 'main');

ALTER TABLE skene.cursors DROP COLUMN txid, DROP COLUMN event_id;

-- Event times, as to_json writes timestamp, timestamptz and date values, read without ever
-- raising: anything that is not a real calendar time (BC, infinity, a year past 9999, a column
-- the app changed to text) is NULL, and the event keeps its capture time with a note.
CREATE FUNCTION skene.event_time(v text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
DECLARE
    m text[] := regexp_match(v, '^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})'
                                '(?::([0-9]{2})(\.[0-9]{1,6})?)?(([+-])([0-9]{2})(?::?[0-5][0-9]){0,2}|Z)?)?$');
BEGIN
    -- One test at a time: make_date() below must only ever see a valid year and month.
    IF m IS NULL OR m[1] = '0000' OR m[2]::int NOT BETWEEN 1 AND 12 THEN
        RETURN NULL;
    END IF;
    IF m[3]::int < 1
       OR m[3]::int > extract(day FROM make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day')
       OR coalesce(m[4]::int, 0) > 23 OR coalesce(m[5]::int, 0) > 59
       OR coalesce(m[6]::int, 0) > 59 OR coalesce(m[10]::int, 0) > 15 THEN
        RETURN NULL;
    END IF;
    IF m[8] IS NOT NULL THEN
        RETURN v::timestamptz;
    END IF;
    RETURN v::timestamp AT TIME ZONE 'UTC';  -- a time without a zone is UTC (docs/config.md)
END
$fn$;
REVOKE ALL ON FUNCTION skene.event_time(text) FROM PUBLIC;

-- Events that come from outside a captured table (Redis Streams, the freemium gate, Stripe),
-- appended to the current queue table like a captured row, their fields in `meta`. An event
-- whose (source, external_id) was seen before is dropped: a redelivery is a no-op. Returns the
-- external ids that were new.
CREATE FUNCTION skene.enqueue(p_source text, p_table_name text, p_user_ids text[],
                              p_events text[], p_activity boolean[],
                              p_occurred_at timestamptz[], p_data jsonb[], p_external_ids text[])
RETURNS TABLE (external_id text)
LANGUAGE plpgsql AS $fn$
BEGIN
    -- The table follows from this transaction's id, like a captured row's (skene.queue_part).
    RETURN QUERY EXECUTE format($q$
        WITH r AS (
            SELECT * FROM unnest($3, $4, $5, $6, $7, $8)
                AS r(user_id, event, activity, occurred_at, data, external_id)
        ), fresh AS (
            INSERT INTO skene.external_events AS x (source, external_id)
            SELECT $1, r.external_id FROM r WHERE r.external_id IS NOT NULL
            ON CONFLICT DO NOTHING
            RETURNING x.external_id
        ), ins AS (
            INSERT INTO skene.%I (op, data, meta)
            SELECT 'event', r.data::json,
                   jsonb_build_object('source', $1, 'table_name', $2, 'user_id', r.user_id,
                                      'event', r.event, 'activity', r.activity,
                                      'occurred_at', r.occurred_at, 'external_id', r.external_id)
            FROM r
            WHERE r.external_id IS NULL OR r.external_id IN (SELECT f.external_id FROM fresh f)
            RETURNING meta ->> 'external_id' AS external_id
        )
        SELECT external_id FROM ins$q$,
        'queue_' || skene.queue_part(pg_current_xact_id()))
    USING p_source, p_table_name, p_user_ids, p_events, p_activity, p_occurred_at, p_data,
          p_external_ids;
END
$fn$;
REVOKE ALL ON FUNCTION skene.enqueue(text, text, text[], text[], boolean[], timestamptz[], jsonb[], text[]) FROM PUBLIC;

-- What each cursor has still to read: the queue rows its tick does not see yet (psql, status,
-- and scheduled firings, which wait for captured activity before deciding).
CREATE VIEW skene.queue_pending AS
SELECT c.name AS cursor, q.part, q.txid, q.seq, q.tbl, q.op, q.at, q.data, q.meta
FROM skene.cursors c
CROSS JOIN LATERAL (
    SELECT * FROM skene.queue q
    WHERE (q.txid >= pg_snapshot_xmax(c.tick) OR q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(c.tick))))
      AND NOT pg_visible_in_snapshot(q.txid, c.tick)
) q;
COMMENT ON VIEW skene.queue_pending IS
    'Captured changes each cursor has not consumed yet.';
