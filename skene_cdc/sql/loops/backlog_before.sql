-- Is an event captured before `before` still waiting for the consumer? Then a firing waits: the
-- conditions read the activity rollups, and a listener starting on a backlog would otherwise
-- run its catch-up firing before reading the activity that matters.
SELECT EXISTS (
    SELECT 1
    FROM skene.events e
    CROSS JOIN (SELECT coalesce((SELECT txid FROM skene.cursors WHERE name = %(cursor)s), '0')
                       AS txid,
                       coalesce((SELECT event_id FROM skene.cursors WHERE name = %(cursor)s), 0)
                       AS event_id) c
    WHERE (e.txid, e.id) > (c.txid, c.event_id) AND e.captured_at <= %(before)s
) AS pending
