-- Replication objects skene created (names recorded in skene.meta by migrate): the statements
-- that remove them, so uninstall never guesses at names the app might own. An active walsender
-- (a running listener) is ended first, because a slot in use cannot be dropped. Replica
-- identities skene changed go back to what they were.
SELECT format($f$DO $drop$
BEGIN
    PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
    WHERE slot_name = %1$L AND active_pid IS NOT NULL;
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = %1$L AND active);
        PERFORM pg_sleep(0.1);
    END LOOP;
    PERFORM pg_drop_replication_slot(%1$L);
END
$drop$$f$, s.slot_name) AS statement,
       'dropped replication slot ' || s.slot_name AS label
FROM pg_replication_slots s
WHERE s.database = current_database()
  AND s.slot_name IN (SELECT value FROM skene.meta WHERE key = 'slot')
UNION ALL
SELECT format('DROP PUBLICATION IF EXISTS %I', p.pubname),
       'dropped publication ' || p.pubname
FROM pg_publication p
WHERE p.pubname IN (SELECT value FROM skene.meta WHERE key = 'publication')
UNION ALL
SELECT format('ALTER TABLE %s REPLICA IDENTITY %s', t.rel,
              CASE WHEN m.value = 'n' THEN 'NOTHING'
                   WHEN m.value = 'f' THEN 'FULL'
                   WHEN m.value LIKE 'i:%' AND EXISTS (
                        SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                        WHERE x.indrelid = t.rel AND i.relname = substr(m.value, 3))
                   THEN format('USING INDEX %I', substr(m.value, 3))
                   ELSE 'DEFAULT' END),
       'restored the replica identity of ' || t.name
FROM skene.meta m
CROSS JOIN LATERAL (SELECT substr(m.key, 18) AS name) n
CROSS JOIN LATERAL (SELECT n.name, to_regclass(format('%I.%I', split_part(n.name, '.', 1),
                                                       substr(n.name, strpos(n.name, '.') + 1)))
                           AS rel) t
WHERE m.key LIKE 'replica\_identity:%' AND t.rel IS NOT NULL
