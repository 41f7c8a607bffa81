UPDATE skene.queue_tables
SET closed_at = CASE WHEN part = %(current)s THEN NULL ELSE coalesce(closed_at, now()) END,
    closed_xmax = CASE WHEN part = %(current)s THEN NULL
                       ELSE coalesce(closed_xmax, pg_snapshot_xmax(pg_current_snapshot())) END,
    opened_at = CASE WHEN part = %(current)s THEN coalesce(opened_at, now()) ELSE opened_at END
WHERE part = %(current)s OR (closed_xmax IS NULL AND opened_at IS NOT NULL)
