-- The queue table that may be emptied now, if any: the one writers reach next (transaction ids
-- go through the three tables in turn, skene.queue_range/queue_part), once the consumer's tick
-- sees every transaction of its ranges as done (the oldest transaction still running at the tick
-- is at least one range past them) and only if it holds anything.
SELECT p.part, 'queue_' || p.part AS "table", p.current_range
FROM (SELECT r.current_range, ((r.current_range + 1) %% 3)::integer AS part
      FROM (SELECT skene.queue_range(pg_snapshot_xmax(pg_current_snapshot())) AS current_range) r
     ) p
CROSS JOIN (SELECT tick FROM skene.cursors WHERE name = %(cursor)s) c
WHERE skene.queue_range(pg_snapshot_xmin(c.tick)) >= p.current_range - 1
  AND pg_relation_size(('skene.queue_' || p.part)::regclass) > 0
