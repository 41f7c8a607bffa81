-- A user's plan from all of their subscriptions: paid while any is active, trialing or past_due
-- with a price that is not 0. The row shown (status, ids, anchor, period end) is the paying
-- subscription (active before trialing before past_due, then the newest), else the newest
-- live one, else the newest. No row: the user has no subscription.
WITH mine AS (
    SELECT s.* FROM skene.stripe_subscriptions s WHERE s.user_ref = %(user_id)s
    UNION ALL
    SELECT s.* FROM skene.stripe_customers c
    JOIN skene.stripe_subscriptions s ON s.customer_id = c.id AND s.user_ref IS NULL
    WHERE c.user_ref = %(user_id)s
)
SELECT CASE WHEN paying THEN 'paid' ELSE 'free' END AS plan, status, id AS subscription,
       customer_id AS customer, extract(epoch FROM billing_anchor)::bigint AS anchor,
       extract(epoch FROM current_period_end)::bigint AS period_end
FROM (SELECT *, status IN ('active', 'trialing', 'past_due') AND priced AS paying FROM mine) m
ORDER BY paying DESC, final,
         CASE status WHEN 'active' THEN 0 WHEN 'trialing' THEN 1 WHEN 'past_due' THEN 2 ELSE 3 END,
         state_at DESC, id DESC
LIMIT 1
