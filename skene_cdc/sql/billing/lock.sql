-- One Stripe event at a time, until commit: deriving a plan reads every subscription of the user,
-- and two concurrent events (two subscriptions of one customer) must not each miss the other's.
-- Webhooks are few; the key is skene.stripe_events' own OID, so no app's advisory lock shares it.
SELECT pg_advisory_xact_lock('skene.stripe_events'::regclass::oid::bigint)
