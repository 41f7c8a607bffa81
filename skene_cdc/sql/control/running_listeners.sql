-- Sessions of running `skene-cdc listen` processes on this database, one row per listener
-- (their application name carries the listener id; listener/control.py).
SELECT DISTINCT application_name
FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE %(prefix)s
  AND pid <> pg_backend_pid()
