-- Bench-only: the statement-level alternative to skene.capture(), using a transition table.
-- One call per statement instead of per row, but the column names arrive as trigger arguments,
-- so the INSERT must be dynamic SQL (parsed and planned on every call).
CREATE FUNCTION skene.capture_stmt() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
    EXECUTE format(
        'INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at, activity, data) '
        'SELECT ''trigger'', %L, %L, r ->> %L, coalesce(r ->> %L, %L), '
        '       coalesce((r ->> %L)::timestamptz, now()), %L::boolean, r '
        'FROM (SELECT to_jsonb(n) AS r FROM new_rows n) s',
        TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, lower(TG_OP), TG_ARGV[0], nullif(TG_ARGV[2], ''),
        TG_TABLE_NAME || '.' || lower(TG_OP), nullif(TG_ARGV[1], ''), TG_ARGV[3]);
    IF EXISTS (SELECT 1 FROM skene.listeners WHERE sleeping_until > now()) THEN
        PERFORM pg_notify('skene_events', '');
    END IF;
    RETURN NULL;
END
$fn$;
DROP TRIGGER skene_capture ON public.user_actions;
CREATE TRIGGER skene_capture_stmt AFTER INSERT ON public.user_actions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture_stmt('user_id', 'created_at', 'action_type', 'true');
