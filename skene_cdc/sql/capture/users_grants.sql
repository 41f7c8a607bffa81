-- A rebuilt view and function start without grants: give the reader role (SQL conditions run as
-- it) back what it had on them, if it exists yet (a first `migrate` creates it just after).
DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {reader}) THEN
        EXECUTE format('GRANT SELECT ON skene.users TO %I', {reader});
        EXECUTE format('GRANT EXECUTE ON FUNCTION skene.users_rows() TO %I', {reader});
    END IF;
END
$grants$;
