-- Every capture trigger: one that calls a skene function on a table outside schema skene (skene's
-- own tables may have their own skene triggers, e.g. the deliveries wake-up), with the
-- definition hash kept in its comment.
SELECT n.nspname || '.' || c.relname AS table_name, n.nspname AS schema, c.relname AS "table",
       t.tgname AS trigger, coalesce(obj_description(t.oid, 'pg_trigger'), '') AS comment
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE p.pronamespace = 'skene'::regnamespace AND NOT t.tgisinternal
  AND c.relnamespace <> 'skene'::regnamespace
ORDER BY 1, 4
