-- The Stripe event as an activity event (source 'stripe', external_id = the event id), through
-- the capture queue like every event. Runs once per event id: skene.stripe_events has already
-- refused a redelivery (skene.enqueue would drop one too).
SELECT external_id AS id FROM skene.enqueue(
    'stripe', NULL, ARRAY[%(user_id)s]::text[], ARRAY[%(type)s]::text[], ARRAY[false],
    ARRAY[to_timestamp(%(created)s)], ARRAY[%(data)s::jsonb], ARRAY[%(event_id)s]::text[])
