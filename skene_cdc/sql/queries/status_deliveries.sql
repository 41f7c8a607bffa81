-- The outbox by loop and state; `retrying` are pending deliveries that already failed once,
-- `oldest_due_at` the longest-waiting delivery that is due now (the sender is behind if old).
SELECT loop,
       count(*) FILTER (WHERE state = 'pending')                      AS pending,
       count(*) FILTER (WHERE state = 'pending' AND attempts > 0)     AS retrying,
       count(*) FILTER (WHERE state = 'sending')                      AS sending,
       count(*) FILTER (WHERE state = 'sent')                         AS sent,
       count(*) FILTER (WHERE state = 'dead')                         AS dead,
       count(*) FILTER (WHERE state = 'skipped')                      AS skipped,
       min(next_attempt_at) FILTER (WHERE state = 'pending' AND next_attempt_at <= now())
                                                                      AS oldest_due_at
FROM skene.deliveries
GROUP BY loop
ORDER BY loop
