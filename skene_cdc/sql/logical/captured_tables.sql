-- Tables migrate registered for logical capture, which columns they keep, and `types`: what
-- the catalog says about every type their columns reach (through domains, array elements and
-- composite fields), which the decoder needs to render values as to_json does (pgjson.py).
WITH RECURSIVE captured AS (
    SELECT ct.table_name, ct.role, ct.user_id_column, ct.timestamp_column, ct.event_column,
           ct.column_mode, ct.column_list, ct.capture_unchanged, ct.relid
    FROM skene.captured_tables ct
    WHERE ct.mode = 'logical'
), reach(oid) AS (
    SELECT a.atttypid
    FROM captured t
    JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT n.oid
    FROM reach r
    JOIN pg_catalog.pg_type t ON t.oid = r.oid
    CROSS JOIN LATERAL (
        SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL
        SELECT t.typelem WHERE t.typelem <> 0
                           AND t.typsubscript = 'pg_catalog.array_subscript_handler'::regproc
        UNION ALL
        SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) AS n(oid)
), described AS (
    -- The order of the CASE is to_json's: domains first, then arrays, composites, and a cast to
    -- json only for types that are not built in.
    SELECT jsonb_object_agg(t.oid::text, jsonb_strip_nulls(jsonb_build_object(
        'name', pg_catalog.format_type(t.oid, NULL),
        'kind', CASE WHEN t.typtype = 'd' THEN 'domain'
                     WHEN is_array THEN 'array'
                     WHEN t.typtype = 'c' THEN 'composite'
                     WHEN t.oid >= 16384 AND cast_fn.proname IS NOT NULL THEN 'cast'
                     ELSE 'scalar' END,
        'base', nullif(t.typbasetype, 0),
        'elem', CASE WHEN is_array THEN t.typelem END,
        'delim', CASE WHEN is_array THEN e.typdelim END,
        'fields', (SELECT jsonb_agg(jsonb_build_array(a.attname, a.atttypid) ORDER BY a.attnum)
                   FROM pg_catalog.pg_attribute a
                   WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
                     AND NOT a.attisdropped),
        'cast', cast_fn.proname))) AS types
    FROM reach r
    JOIN pg_catalog.pg_type t ON t.oid = r.oid
    CROSS JOIN LATERAL (SELECT t.typelem <> 0 AND t.typsubscript =
                               'pg_catalog.array_subscript_handler'::regproc) AS a(is_array)
    LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
    LEFT JOIN (pg_catalog.pg_cast c JOIN pg_catalog.pg_proc cast_fn ON cast_fn.oid = c.castfunc)
           ON c.castsource = t.oid AND c.casttarget = 'pg_catalog.json'::regtype
          AND c.castmethod = 'f'
)
SELECT c.table_name, c.role, c.user_id_column, c.timestamp_column, c.event_column,
       c.column_mode, c.column_list, c.capture_unchanged, coalesce(d.types, '{}') AS types
FROM captured c CROSS JOIN described d
