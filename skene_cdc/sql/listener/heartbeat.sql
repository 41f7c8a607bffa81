UPDATE skene.listeners SET heartbeat_at = now(), sleeping_until = %(sleeping_until)s
WHERE listener = %(listener)s
