SELECT value FROM skene.meta WHERE key = 'backfill:' || %(table_name)s
