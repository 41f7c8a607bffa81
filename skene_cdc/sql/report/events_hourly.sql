-- Events captured per hour over the window, and the capture lag of live events: how long after
-- the event (occurred_at) it was in skene.events (captured_at). Events whose own timestamp is
-- more than an hour older than their capture (backfills, backdated rows) are counted but left
-- out of the lag, which they would swamp.
WITH hours AS (
    SELECT h AS hour
    FROM generate_series(date_trunc('hour', now()) - (%(hours)s - 1) * interval '1 hour',
                         date_trunc('hour', now()), interval '1 hour') h
), ev AS (
    SELECT date_trunc('hour', captured_at) AS hour,
           extract(epoch FROM captured_at - occurred_at) AS lag
    FROM skene.events
    WHERE captured_at >= date_trunc('hour', now()) - (%(hours)s - 1) * interval '1 hour'
)
SELECT h.hour,
       count(ev.hour)                                                        AS events,
       count(ev.hour) FILTER (WHERE ev.lag BETWEEN 0 AND 3600)               AS live,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ev.lag)
           FILTER (WHERE ev.lag BETWEEN 0 AND 3600)                          AS lag_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY ev.lag)
           FILTER (WHERE ev.lag BETWEEN 0 AND 3600)                          AS lag_p95
FROM hours h
LEFT JOIN ev ON ev.hour = h.hour
GROUP BY h.hour
ORDER BY h.hour
