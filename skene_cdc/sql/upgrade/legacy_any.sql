SELECT 1 FROM skene.events_legacy LIMIT 1
