-- What logical capture needs from the server and the migrating role (read-only).
SELECT current_setting('wal_level') AS wal_level,
       r.rolname AS role, r.rolsuper AS superuser,
       r.rolreplication OR r.rolsuper AS can_replicate,
       current_setting('max_replication_slots')::int AS max_slots,
       (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
       current_setting('max_wal_senders')::int AS max_senders,
       current_setting('max_slot_wal_keep_size') AS max_slot_wal_keep_size,
       has_database_privilege(current_database(), 'CREATE') AS can_create,
       current_database() AS database,
       CASE WHEN r.rolsuper OR pg_has_role('pg_read_all_settings', 'MEMBER')
            THEN current_setting('data_directory') END AS data_directory
FROM pg_roles r
WHERE r.rolname = current_user
