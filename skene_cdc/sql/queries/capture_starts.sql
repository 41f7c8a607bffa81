SELECT key FROM skene.meta WHERE key LIKE 'capture\_start:%'
