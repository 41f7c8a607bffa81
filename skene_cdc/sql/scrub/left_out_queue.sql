-- The same for one queue table. Its data is json (storing it never fails), rewritten with json
-- functions key by key; rows the 0008 upgrade queued carry the table's name and the old row in
-- `meta` instead of an oid.
UPDATE {queue}
SET data = CASE WHEN json_typeof(data) = 'object'
                THEN (SELECT json_object_agg(j.key, j.value) FROM json_each(data) j
                      WHERE j.key <> ALL ({keys}::text[]))
                ELSE data END,
    meta = CASE WHEN jsonb_typeof(meta -> 'old') = 'object'
                THEN jsonb_set(meta, '{{old}}', (meta -> 'old') - {keys}::text[])
                ELSE meta END
WHERE (tbl = {relid} OR (tbl IS NULL AND meta ->> 'table_name' = {table_name}))
  AND ((json_typeof(data) = 'object'
        AND EXISTS (SELECT 1 FROM json_each(data) j WHERE j.key = ANY ({keys}::text[])))
       OR (jsonb_typeof(meta -> 'old') = 'object' AND (meta -> 'old') ?| {keys}::text[]));
