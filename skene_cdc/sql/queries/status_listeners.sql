SELECT listener, pid, host, started_at, heartbeat_at,
       heartbeat_at > now() - interval '30 seconds' AS alive,
       sleeping_until > now() AS sleeping
FROM skene.listeners ORDER BY started_at
