-- A verified Stripe event, once: a redelivery (same event id) inserts nothing and returns no row.
INSERT INTO skene.stripe_events (id, type, created, data)
VALUES (%(event_id)s, %(type)s, to_timestamp(%(created)s), %(data)s)
ON CONFLICT (id) DO NOTHING
RETURNING id
