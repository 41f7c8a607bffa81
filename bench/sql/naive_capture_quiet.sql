-- Bench-only: the naive to_jsonb(NEW) row trigger FACTS.md measured at 0.77x, without NOTIFY:
-- one heap row and one index per change, the floor of any trigger that writes an events table.
CREATE TABLE naive_events (id bigserial PRIMARY KEY, table_name text, data jsonb,
                           created_at timestamptz DEFAULT now());
CREATE FUNCTION naive_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO naive_events (table_name, data) VALUES (TG_TABLE_NAME, to_jsonb(NEW));
    RETURN NULL;
END
$fn$;
CREATE TRIGGER naive_capture AFTER INSERT ON public.user_actions
    FOR EACH ROW EXECUTE FUNCTION naive_capture();
