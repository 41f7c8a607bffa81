-- The Stripe event as an activity row of skene.events (source 'stripe', external_id = the event
-- id). Runs once per event id: skene.stripe_events has already refused a redelivery.
INSERT INTO skene.events (source, table_name, op, user_id, event, activity, occurred_at, data,
                          external_id)
VALUES ('stripe', NULL, 'event', %(user_id)s, %(type)s, false, to_timestamp(%(created)s),
        %(data)s, %(event_id)s)
