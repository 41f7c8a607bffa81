-- What the connecting role may do to each table skene captures. Installing capture runs CREATE
-- TRIGGER, COMMENT ON TRIGGER and (on change) DROP TRIGGER: the last two need ownership (or
-- membership in the owning role); the TRIGGER privilege alone is not enough.
SELECT n.nspname || '.' || c.relname AS table_name,
       pg_get_userbyid(c.relowner) AS owner,
       pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
       has_table_privilege(c.oid, 'SELECT') AS can_select,
       has_schema_privilege(n.oid, 'USAGE') AS schema_usage
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY (%(tables)s::text[])
