-- `skene-cdc status`: deliveries by state, with the newest error of the states that have one
-- (sent rows never do, so the large 'sent' population is not searched), and how many pending
-- ones wait for a frequency cap or quiet hours rather than for a retry.
SELECT s.state, count(d.id) AS n,
       min(d.next_attempt_at) FILTER (WHERE d.state = 'pending') AS next_due,
       max(d.updated_at) AS last_change,
       CASE WHEN s.state IN ('pending', 'sending', 'dead') THEN
           (SELECT left(x.last_error, 200) FROM skene.deliveries x
            WHERE x.state = s.state AND x.last_error IS NOT NULL
            ORDER BY x.updated_at DESC LIMIT 1)
       END AS last_error,
       count(d.id) FILTER (WHERE d.state = 'pending' AND d.deferred_reason IS NOT NULL
                             AND d.last_error IS NULL) AS deferred
FROM (VALUES ('pending'), ('sending'), ('sent'), ('dead'), ('skipped'), ('suppressed'),
             ('expired')) AS s(state)
JOIN skene.deliveries d ON d.state = s.state
GROUP BY s.state
ORDER BY array_position(ARRAY['pending', 'sending', 'sent', 'dead', 'skipped', 'suppressed',
                              'expired'], s.state)
