-- A table's replica identity and the columns it covers: what a DELETE's old row will carry.
SELECT c.relreplident AS ident,
       pg_has_role(c.relowner, 'USAGE') AS owned,
       (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = c.oid AND x.indisreplident) AS ident_index,
       (SELECT array_agg(a.attname::text) FROM pg_index x
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (x.indkey)
        WHERE x.indrelid = c.oid AND x.indisprimary) AS pk_columns,
       (SELECT array_agg(a.attname::text) FROM pg_index x
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (x.indkey)
        WHERE x.indrelid = c.oid AND x.indisreplident) AS index_columns
FROM pg_class c
WHERE c.oid = to_regclass(%(table)s)
