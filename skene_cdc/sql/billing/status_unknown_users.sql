-- `skene-cdc status`, section stripe_unknown_users: Stripe named these as users; none exists.
SELECT user_ref, reason, events, last_event_id, last_seen_at
FROM skene.stripe_unknown_users
ORDER BY last_seen_at DESC, user_ref
LIMIT 20
