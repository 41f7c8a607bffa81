-- Customer -> user: the greatest (rank, linked_at, event_id) wins, so the order events arrive
-- in does not matter.
INSERT INTO skene.stripe_customers AS c (id, user_ref, source, rank, linked_at, event_id)
VALUES (%(customer)s, %(user_ref)s, %(source)s, %(rank)s, to_timestamp(%(at)s), %(event_id)s)
ON CONFLICT (id) DO UPDATE SET
    user_ref = excluded.user_ref, source = excluded.source, rank = excluded.rank,
    linked_at = excluded.linked_at, event_id = excluded.event_id, updated_at = now()
WHERE (excluded.rank, excluded.linked_at, excluded.event_id) > (c.rank, c.linked_at, c.event_id)
