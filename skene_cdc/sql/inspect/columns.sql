-- Every column of every ordinary or partitioned table the connecting role can see, outside the
-- system schemas and skene's own. Partitions are skipped: their parent is what the app writes to.
SELECT n.nspname AS schema, c.relname AS "table", a.attname AS "column",
       format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory AS category,
       a.attnotnull AS not_null,
       coalesce(a.attnum = ANY (pk.conkey), false) AS primary_key,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'skene', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND has_schema_privilege(n.oid, 'USAGE')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY n.nspname, c.relname, a.attnum
