INSERT INTO skene.meta (key, value) VALUES ('backfill:' || %(table_name)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
