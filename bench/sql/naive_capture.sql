-- Bench-only: the naive capture FACTS.md measured — to_jsonb(NEW) into an events table plus a
-- pg_notify in every transaction — for reference.
CREATE TABLE naive_events (id bigserial PRIMARY KEY, table_name text, data jsonb,
                           created_at timestamptz DEFAULT now());
CREATE FUNCTION naive_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO naive_events (table_name, data) VALUES (TG_TABLE_NAME, to_jsonb(NEW));
    PERFORM pg_notify('naive', TG_TABLE_NAME);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER naive_capture AFTER INSERT ON public.user_actions
    FOR EACH ROW EXECUTE FUNCTION naive_capture();
