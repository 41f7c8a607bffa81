-- `skene-cdc status`, section listeners. A listener names its database sessions after itself
-- (application_name 'skene-cdc listen <listener>', listener/control.py): `connected` says
-- whether it still has one. A killed listener leaves its row but no session: 'dead'. One
-- with a session but no recent heartbeat is 'stalled' (a very long batch, or stuck).
SELECT l.listener, l.pid, l.host, l.started_at, l.heartbeat_at,
       l.heartbeat_at > now() - interval '30 seconds' AS alive,
       l.sleeping_until > now() AS sleeping,
       s.connected,
       CASE WHEN NOT s.connected THEN 'dead'
            WHEN l.heartbeat_at > now() - interval '30 seconds' THEN 'running'
            ELSE 'stalled' END AS state
FROM skene.listeners l
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity a
                   WHERE a.datname = current_database()
                     AND a.application_name = left('skene-cdc listen ' || l.listener, 63))
           AS connected
) s
ORDER BY l.started_at
