-- Bench-only: a PL/pgSQL trigger that does nothing, to show the floor any trigger costs here.
CREATE FUNCTION empty_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN NULL;
END
$fn$;
CREATE TRIGGER empty_capture AFTER INSERT ON public.user_actions
    FOR EACH ROW EXECUTE FUNCTION empty_capture();
