-- True when the listener has consumed every captured change and the outbox has nothing due:
-- the demo waits for this between phases so the output reads in order.
SELECT NOT EXISTS (SELECT 1 FROM skene.queue_pending)
       AND EXISTS (SELECT 1 FROM skene.cursors)
       AND NOT EXISTS (
           -- Being sent (its next_attempt_at is then a lease expiry, in the future), or due.
           SELECT 1 FROM skene.deliveries
            WHERE state = 'sending' OR (state = 'pending' AND next_attempt_at <= now()))
           AS caught_up
