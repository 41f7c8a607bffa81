-- Which session settings to_json of this table's rows depends on, from every type its columns
-- reach (through domains, arrays, composites and ranges): bits 1 TimeZone (timestamptz),
-- 2 DateStyle (ranges print their bounds with it), 4 IntervalStyle, 8 extra_float_digits,
-- 16 bytea_output, 32 search_path (reg* types print names relative to it) and every bit for a
-- type with its own cast to json (its output is anyone's guess). The trigger pins exactly these.
WITH RECURSIVE reach(oid) AS (
    SELECT a.atttypid FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = %(relid)s AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT n.oid
    FROM reach r
    JOIN pg_catalog.pg_type t ON t.oid = r.oid
    CROSS JOIN LATERAL (
        SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL
        SELECT t.typelem WHERE t.typelem <> 0 AND t.typcategory = 'A'
        UNION ALL
        SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid = t.oid
        UNION ALL
        SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid = t.oid
    ) n(oid)
)
SELECT coalesce(bit_or(CASE
    WHEN t.oid >= 16384 AND EXISTS (SELECT 1 FROM pg_catalog.pg_cast c
                                    WHERE c.castsource = t.oid
                                      AND c.casttarget = 'pg_catalog.json'::regtype) THEN 63
    WHEN t.oid = 'pg_catalog.timestamptz'::regtype THEN 1
    WHEN t.typtype IN ('r', 'm') THEN 2
    WHEN t.oid = 'pg_catalog.interval'::regtype THEN 4
    -- floats, and the geometric types, which print their coordinates as float8
    WHEN t.oid IN ('pg_catalog.float4'::regtype, 'pg_catalog.float8'::regtype,
                   'pg_catalog.point'::regtype, 'pg_catalog.line'::regtype,
                   'pg_catalog.lseg'::regtype, 'pg_catalog.box'::regtype,
                   'pg_catalog.path'::regtype, 'pg_catalog.polygon'::regtype,
                   'pg_catalog.circle'::regtype) THEN 8
    WHEN t.oid = 'pg_catalog.bytea'::regtype THEN 16
    WHEN t.typname IN ('regclass', 'regtype', 'regproc', 'regprocedure', 'regoper',
                       'regoperator', 'regconfig', 'regdictionary', 'regnamespace', 'regrole',
                       'regcollation') AND t.typnamespace = 'pg_catalog'::regnamespace THEN 32
    ELSE 0 END), 0) AS pin
FROM reach r
JOIN pg_catalog.pg_type t ON t.oid = r.oid
