-- How many scheduled steps have had a firing finish: on start the listener runs each schedule's
-- most recent due firing once (a catch-up), and the demo waits for that before it replays
-- history, so the catch-up sees an empty app rather than a half-written month.
SELECT count(DISTINCT (loop, step)) AS n
FROM skene.schedule_firings
WHERE state IN ('done', 'failed', 'dead')
