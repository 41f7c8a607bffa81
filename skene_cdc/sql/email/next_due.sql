-- Seconds until the next delivery is due (or a lease runs out); NULL when the queue is empty.
-- Two index-ordered min() look-ups rather than one scan of every queued row.
SELECT extract(epoch FROM least(
    (SELECT min(next_attempt_at) FROM skene.deliveries WHERE state = 'pending'),
    (SELECT min(next_attempt_at) FROM skene.deliveries WHERE state = 'sending')
) - now())::float8 AS wait
