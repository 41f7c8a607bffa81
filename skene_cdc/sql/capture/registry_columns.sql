-- Every captured table as migrate registered it, beside the columns the table has now (NULL when
-- the table itself is gone): what `status`, `check` and the listener compare to notice that the
-- app renamed or dropped a column skene maps, or added one whose name looks secret.
SELECT ct.table_name, ct.role, ct.mode, ct.user_id_column, ct.timestamp_column, ct.event_column,
       ct.column_mode, ct.column_list,
       (SELECT array_agg(a.attname::text ORDER BY a.attnum)
        FROM pg_attribute a
        WHERE a.attrelid = to_regclass(quote_ident(split_part(ct.table_name, '.', 1)) || '.'
                                       || quote_ident(substr(ct.table_name,
                                                             strpos(ct.table_name, '.') + 1)))
          AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM skene.captured_tables ct
ORDER BY ct.role DESC, ct.table_name
