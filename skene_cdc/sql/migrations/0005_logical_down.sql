DROP TABLE IF EXISTS skene.replication;
DROP INDEX IF EXISTS skene.events_logical_key;
