-- Events from outside PostgreSQL (Redis Streams, the freemium gate), deduplicated on
-- (source, external_id): a redelivered entry is a no-op.
INSERT INTO skene.events (source, table_name, op, user_id, event, activity, occurred_at, data,
                          external_id)
SELECT %(source)s, %(table_name)s, 'event', t.user_id, t.event, t.activity, t.occurred_at, t.data,
       t.external_id
FROM unnest(%(user_ids)s::text[], %(events)s::text[], %(activity)s::boolean[],
            %(occurred_at)s::timestamptz[], %(data)b::jsonb[], %(external_ids)s::text[])
     AS t(user_id, event, activity, occurred_at, data, external_id)
ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING
