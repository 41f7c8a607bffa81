-- Events from outside PostgreSQL (Redis Streams, the freemium gate), into the capture queue;
-- a redelivered (source, external_id) is a no-op. Returns the ids that were new.
SELECT external_id FROM skene.enqueue(
    %(source)s, %(table_name)s, %(user_ids)s::text[], %(events)s::text[], %(activity)s::boolean[],
    %(occurred_at)s::timestamptz[], %(data)b::jsonb[], %(external_ids)s::text[])
