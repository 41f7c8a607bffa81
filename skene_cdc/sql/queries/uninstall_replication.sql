-- Replication objects skene created (names recorded in skene.meta by migrate): the statements
-- that remove them, so uninstall never guesses at names the app might own.
SELECT format('SELECT pg_drop_replication_slot(%L)', s.slot_name) AS statement,
       'dropped replication slot ' || s.slot_name AS label
FROM pg_replication_slots s
WHERE s.database = current_database()
  AND s.slot_name IN (SELECT value FROM skene.meta WHERE key = 'slot')
UNION ALL
SELECT format('DROP PUBLICATION IF EXISTS %I', p.pubname),
       'dropped publication ' || p.pubname
FROM pg_publication p
WHERE p.pubname IN (SELECT value FROM skene.meta WHERE key = 'publication')
