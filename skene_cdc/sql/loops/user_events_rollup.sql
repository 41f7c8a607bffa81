-- Per (user, event) totals and last use, incremented in the listener's batch transaction (so
-- exactly once, like activity_daily). Sorted input keeps concurrent writers deadlock-free.
INSERT INTO skene.user_events AS x (user_id, event, first_at, last_at, n)
SELECT * FROM unnest(%(users)s::text[], %(events)s::text[], %(firsts)s::timestamptz[],
                     %(lasts)s::timestamptz[], %(counts)s::bigint[])
ON CONFLICT (user_id, event) DO UPDATE
SET first_at = least(x.first_at, excluded.first_at),
    last_at = greatest(x.last_at, excluded.last_at),
    n = x.n + excluded.n
