-- Facts about the server that shape the generated config.
SELECT current_database() AS database, current_user AS "user",
       current_setting('wal_level') AS wal_level,
       current_setting('server_version_num')::int AS server_version
