-- The tables a publication currently covers; no row at all when it does not exist.
SELECT p.pubname, array_remove(array_agg(t.schemaname || '.' || t.tablename), NULL) AS tables
FROM pg_publication p
LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname
WHERE p.pubname = %(publication)s
GROUP BY p.pubname
