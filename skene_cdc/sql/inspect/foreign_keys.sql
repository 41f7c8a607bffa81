-- Single-column foreign keys: (schema.table.column) -> (schema.table.column).
SELECT sn.nspname AS schema, s.relname AS "table", sa.attname AS "column",
       tn.nspname AS ref_schema, t.relname AS ref_table, ta.attname AS ref_column
FROM pg_constraint fk
JOIN pg_class s ON s.oid = fk.conrelid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = fk.confrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute sa ON sa.attrelid = s.oid AND sa.attnum = fk.conkey[1]
JOIN pg_attribute ta ON ta.attrelid = t.oid AND ta.attnum = fk.confkey[1]
WHERE fk.contype = 'f' AND cardinality(fk.conkey) = 1
  AND sn.nspname NOT IN ('pg_catalog', 'information_schema', 'skene')
ORDER BY 1, 2, 3
