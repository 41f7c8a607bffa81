-- Days are UTC days. Sorted input keeps concurrent writers from deadlocking on row order.
INSERT INTO skene.activity_daily AS d (user_id, day, event, n)
SELECT u, d::date, e, c
FROM unnest(%(user_ids)s::text[], %(days)s::text[], %(events)s::text[], %(counts)s::integer[])
     AS t(u, d, e, c)
ON CONFLICT (user_id, day, event) DO UPDATE SET n = d.n + excluded.n
