-- Redelivery ids older than the history (and than Stripe's 3 days of retries) are forgotten.
DELETE FROM skene.external_events WHERE received_at < now() - %(keep)s::interval
