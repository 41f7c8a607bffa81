-- A cheap fingerprint of one table's columns (names, types, order), resolved as the app resolves
-- the name: the listener compares it every half minute to notice that the app changed its users
-- table. NULL when the table does not exist.
SELECT md5(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
                      ORDER BY a.attnum)) AS signature
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%(name)s) AND a.attnum > 0 AND NOT a.attisdropped
