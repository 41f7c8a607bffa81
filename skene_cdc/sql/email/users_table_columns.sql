-- The app's users table as skene.yaml names it: each column, whether it may be NULL, and the
-- table's name as PostgreSQL quotes it (for statements built from it).
SELECT a.attname AS column_name, NOT a.attnotnull AS nullable,
       format_type(a.atttypid, a.atttypmod) AS data_type, c.oid::regclass::text AS relation
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%(table)s)
ORDER BY a.attnum
