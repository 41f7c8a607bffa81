-- The keyset to page an activity table on (its single-column primary key, else ctid) and the
-- row estimate for the progress bar (-1 when the table was never analyzed).
SELECT c.reltuples::bigint AS estimate,
       (SELECT a.attname FROM pg_constraint pk
          JOIN pg_attribute a ON a.attrelid = pk.conrelid AND a.attnum = pk.conkey[1]
         WHERE pk.conrelid = c.oid AND pk.contype = 'p' AND cardinality(pk.conkey) = 1) AS pk,
       (SELECT format_type(a.atttypid, NULL) FROM pg_constraint pk
          JOIN pg_attribute a ON a.attrelid = pk.conrelid AND a.attnum = pk.conkey[1]
         WHERE pk.conrelid = c.oid AND pk.contype = 'p' AND cardinality(pk.conkey) = 1) AS pk_type
FROM pg_class c
WHERE c.oid = to_regclass(%(name)s)
