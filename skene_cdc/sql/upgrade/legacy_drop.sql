DROP TABLE IF EXISTS skene.events_legacy
