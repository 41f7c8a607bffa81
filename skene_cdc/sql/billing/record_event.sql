-- A verified Stripe event, once: a redelivery (same event id) enqueues nothing and returns no row.
SELECT external_id AS id FROM skene.enqueue(
    'stripe', NULL, ARRAY[%(user_id)s]::text[], ARRAY[%(type)s]::text[], ARRAY[false],
    ARRAY[to_timestamp(%(created)s)], ARRAY[%(data)s::jsonb], ARRAY[%(event_id)s]::text[])
