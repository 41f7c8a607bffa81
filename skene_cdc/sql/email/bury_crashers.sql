-- A delivery whose senders keep dying while sending it (two leases beyond its retry budget) is
-- parked instead of crash-looping every listener that picks it up.
UPDATE skene.deliveries
SET state = 'dead', updated_at = now(),
    last_error = format('the sender stopped while sending this delivery %s times; parked. '
                        'Last error: %s', attempts, coalesce(last_error, 'none'))
WHERE state = 'sending' AND next_attempt_at <= now() AND attempts >= max_attempts + 2
