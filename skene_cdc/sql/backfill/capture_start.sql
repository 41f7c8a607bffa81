SELECT value FROM skene.meta WHERE key = 'capture_start:' || %(table_name)s
