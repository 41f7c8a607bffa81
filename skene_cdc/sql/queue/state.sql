-- The three queue tables: which is current (the rotation sequence), when each was closed and
-- below which transaction id all its rows lie.
SELECT t.part, t.opened_at, t.closed_at, t.closed_xmax::text AS closed_xmax,
       t.part = pg_sequence_last_value('skene.queue_rotation') AS current,
       t.closed_xmax IS NOT NULL
       AND pg_snapshot_xmin(c.tick) >= t.closed_xmax AS drained
FROM skene.queue_tables t
CROSS JOIN (SELECT coalesce((SELECT tick FROM skene.cursors WHERE name = %(cursor)s),
                            '1:1:'::pg_snapshot) AS tick) c
ORDER BY t.part
