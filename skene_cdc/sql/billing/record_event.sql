-- A verified Stripe event, once: a redelivery (same event id) inserts nothing.
INSERT INTO skene.events (source, table_name, op, user_id, event, activity, occurred_at, data,
                          external_id)
VALUES ('stripe', NULL, 'event', %(user_id)s, %(type)s, false, to_timestamp(%(created)s),
        %(data)s, %(event_id)s)
ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING id
