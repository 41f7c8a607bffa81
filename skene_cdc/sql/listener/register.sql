INSERT INTO skene.listeners AS l (listener, pid, host)
VALUES (%(listener)s, %(pid)s, %(host)s)
ON CONFLICT (listener) DO UPDATE SET pid = excluded.pid, host = excluded.host,
    started_at = now(), heartbeat_at = now(), sleeping_until = NULL
