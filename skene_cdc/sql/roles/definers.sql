-- SECURITY DEFINER functions in schema skene owned by a superuser: app code reached through one
-- (a cast to json on a captured column's type) would run with superuser rights.
SELECT p.oid::regprocedure::text AS function, pg_get_userbyid(p.proowner) AS owner
FROM pg_proc p
JOIN pg_roles r ON r.oid = p.proowner
WHERE p.pronamespace = 'skene'::regnamespace AND p.prosecdef AND r.rolsuper
ORDER BY 1
