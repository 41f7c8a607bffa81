-- `skene-cdc status`, section "replication": the slot skene created, how far behind it is in
-- bytes (server's view) and in seconds (heartbeats: how long the newest one took to arrive, or
-- how long the oldest unprocessed one has waited), against capture.max_slot_lag.
WITH m AS (
    SELECT max(value) FILTER (WHERE key = 'slot') AS slot,
           max(value) FILTER (WHERE key = 'publication') AS publication,
           nullif(max(value) FILTER (WHERE key = 'max_slot_lag'), 'off')::bigint AS max_lag
    FROM skene.meta
), s AS (
    SELECT m.*, rs.slot_name IS NOT NULL AS slot_exists, rs.active, rs.active_pid, rs.wal_status,
           pg_wal_lsn_diff(pg_current_wal_lsn(), rs.confirmed_flush_lsn)::bigint AS lag_bytes,
           pg_wal_lsn_diff(pg_current_wal_lsn(), rs.restart_lsn)::bigint AS retained_bytes
    FROM m LEFT JOIN pg_replication_slots rs
      ON rs.slot_name = m.slot AND rs.database = current_database()
    WHERE m.slot IS NOT NULL
)
SELECT s.slot, s.active, s.wal_status, pg_size_pretty(s.lag_bytes) AS lag, s.lag_bytes,
       CASE WHEN r.heartbeat_seen_sent_at IS NULL THEN NULL
            ELSE round(extract(epoch FROM greatest(
                     r.heartbeat_seen_at - r.heartbeat_seen_sent_at,
                     CASE WHEN r.heartbeat_emitted_at > r.heartbeat_seen_sent_at
                          THEN clock_timestamp() - r.heartbeat_emitted_at END,
                     clock_timestamp() - r.heartbeat_seen_sent_at - r.heartbeat_interval,
                     interval '0'))::numeric, 3)
       END AS lag_seconds,
       pg_size_pretty(s.max_lag) AS max_slot_lag,
       CASE WHEN NOT s.slot_exists THEN 'missing: run skene-cdc migrate'
            WHEN s.wal_status = 'lost' THEN 'lost: run skene-cdc migrate'
            WHEN s.lag_bytes > s.max_lag THEN 'CRITICAL: lag over capture.max_slot_lag'
            WHEN s.lag_bytes * 2 > s.max_lag THEN 'WARNING: lag over half of capture.max_slot_lag'
            -- listeners name their sessions 'skene-cdc listen <id>' (listener/control.py)
            WHEN NOT s.active AND EXISTS (
                     SELECT 1 FROM pg_stat_activity a
                     WHERE a.datname = current_database()
                       AND a.application_name LIKE 'skene-cdc listen %')
            THEN 'inactive: a skene-cdc listen is running but not reading this slot (its '
                 || 'skene.yaml has no logical capture: edit the file it reads, or send it '
                 || 'SIGHUP, or restart it)'
            WHEN NOT s.active THEN 'inactive: no skene-cdc listen is running'
            ELSE 'ok' END AS health,
       r.heartbeat_seen_at AS last_heartbeat_at, r.lost_reason
FROM s LEFT JOIN skene.replication r ON r.slot = s.slot
