-- One replication slot as the server sees it, with how much WAL it holds back.
SELECT s.slot_name, s.plugin, s.database, s.active, s.active_pid, s.wal_status,
       s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_bytes,
       s.safe_wal_size
FROM pg_replication_slots s
WHERE s.slot_name = %(slot)s
