-- Back to the capture trigger that writes skene.events directly. Rows still in the queue become
-- events (with the fields they carry, or the raw row for captured changes).
INSERT INTO skene.events (txid, captured_at, source, table_name, op, user_id, event, activity,
                          occurred_at, data)
SELECT q.txid, q.at, coalesce(q.meta ->> 'source', 'trigger'),
       coalesce(q.meta ->> 'table_name', ct.table_name), q.op,
       coalesce(q.meta ->> 'user_id', q.data::jsonb ->> ct.user_id_column),
       coalesce(q.meta ->> 'event', q.data::jsonb ->> ct.event_column,
                split_part(ct.table_name, '.', 2) || '.' || q.op),
       coalesce((q.meta ->> 'activity')::boolean, ct.role = 'activity' AND q.op IN ('insert', 'update')),
       coalesce((q.meta ->> 'occurred_at')::timestamptz, q.at), q.data::jsonb
FROM skene.queue q LEFT JOIN skene.captured_tables ct ON ct.relid = q.tbl
ORDER BY q.txid, q.seq;
ALTER TABLE skene.captured_tables DROP COLUMN relid, DROP COLUMN column_mode, DROP COLUMN column_list,
    DROP COLUMN capture_unchanged;
ALTER TABLE skene.cursors DROP COLUMN tick, DROP COLUMN next_tick, DROP COLUMN pos_txid,
    DROP COLUMN pos_seq, DROP COLUMN repaired, DROP COLUMN quarantined;
CREATE OR REPLACE FUNCTION skene.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
    row_ jsonb;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO skene.events (source, table_name, op, event)
        VALUES ('trigger', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'truncate',
                TG_TABLE_NAME || '.truncate');
    ELSE
        IF TG_OP = 'DELETE' THEN row_ := to_jsonb(OLD); ELSE row_ := to_jsonb(NEW); END IF;
        INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at, activity, data)
        VALUES ('trigger', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, lower(TG_OP),
                row_ ->> TG_ARGV[0],
                coalesce(row_ ->> nullif(TG_ARGV[2], ''), TG_TABLE_NAME || '.' || lower(TG_OP)),
                coalesce((row_ ->> nullif(TG_ARGV[1], ''))::timestamptz, now()),
                TG_ARGV[3]::boolean AND TG_OP <> 'DELETE',
                row_);
    END IF;
    IF EXISTS (SELECT 1 FROM skene.listeners WHERE sleeping_until > now()) THEN
        PERFORM pg_notify('skene_events', '');
    END IF;
    RETURN NULL;
END
$fn$;
ALTER FUNCTION skene.capture() OWNER TO CURRENT_USER;
DROP VIEW skene.queue;
DROP TABLE skene.queue_0, skene.queue_1, skene.queue_2;
DROP SEQUENCE skene.queue_seq, skene.wake;
DROP FUNCTION skene.queue_part(xid8), skene.queue_range(xid8), skene.to_json_pinned(anyelement),
    skene.capture_json(anyelement, boolean, text, text[]);
