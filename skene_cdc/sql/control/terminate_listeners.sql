-- Listeners that did not stop when asked: end their sessions.
SELECT pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE %(prefix)s
  AND pid <> pg_backend_pid()
