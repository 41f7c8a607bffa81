-- Any text at all, checked field by field, never raising (skene.event_time).
skene.event_time(r.raw)
