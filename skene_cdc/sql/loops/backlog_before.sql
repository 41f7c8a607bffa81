-- Is a change captured before `before` still waiting for the consumer? Then a firing waits: the
-- conditions read the activity rollups, and a listener starting on a backlog would otherwise
-- run its catch-up firing before reading the activity that matters. (No cursor yet: nothing has
-- been consumed, so everything in the queue waits.)
SELECT EXISTS (
    SELECT 1
    FROM skene.queue q
    CROSS JOIN (SELECT coalesce((SELECT tick FROM skene.cursors WHERE name = %(cursor)s),
                                '1:1:'::pg_snapshot) AS tick) c
    WHERE (q.txid >= pg_snapshot_xmax(c.tick)
           OR q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(c.tick))))
      AND NOT pg_visible_in_snapshot(q.txid, c.tick)
      AND q.at <= %(before)s
) AS pending
