-- The role SQL conditions run as. NOLOGIN: nobody connects as it; the listener reaches it with
-- SET LOCAL ROLE. Role names are cluster-wide, so another database's migrate may create it at
-- the same moment: that is not an error.
DO $create$
BEGIN
    CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$create$;
