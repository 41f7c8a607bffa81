-- Bench-only: a PL/pgSQL trigger that does nothing, in the shape of skene's insert capture (per
-- statement, with a transition table): the floor any such trigger costs here.
CREATE FUNCTION empty_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN NULL;
END
$fn$;
CREATE TRIGGER empty_capture AFTER INSERT ON public.user_actions
    REFERENCING NEW TABLE AS skene_new
    FOR EACH STATEMENT EXECUTE FUNCTION empty_capture();
