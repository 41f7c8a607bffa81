-- Columns of one table, resolved the way the app's own queries would resolve its name.
SELECT c.oid AS relid, n.nspname AS schema, c.relname AS "table", a.attname AS "column",
       format_type(a.atttypid, a.atttypmod) AS type,
       -- The type without its modifier (varchar, numeric): what skene.users declares, so the
       -- app may widen a column without skene noticing.
       format_type(a.atttypid, NULL) AS base_type,
       -- Statement triggers fire only for the table a statement names: row triggers where a
       -- write can name another table of the hierarchy.
       (c.relkind = 'p' OR c.relispartition OR c.relhassubclass
        OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)) AS in_hierarchy
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%(name)s)
ORDER BY a.attnum
