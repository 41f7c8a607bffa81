-- skene 0006: the freemium gate, Stripe and Redis Streams.
-- Events ingested from outside PostgreSQL (Stripe event ids, Redis Stream entry ids) carry an
-- external_id; the unique key makes a redelivered event a no-op. Partial, so rows captured by
-- triggers (no external_id) cost no extra index entry.
CREATE UNIQUE INDEX events_external_idx ON skene.events (source, external_id)
    WHERE external_id IS NOT NULL;

-- What Stripe told us, so usage windows can follow the billing cycle and an out-of-order
-- (older) webhook never overwrites a newer state.
ALTER TABLE skene.user_plans
    ADD COLUMN billing_anchor     timestamptz,
    ADD COLUMN current_period_end timestamptz,
    ADD COLUMN stripe_event_id    text,
    ADD COLUMN stripe_event_at    timestamptz;
CREATE INDEX user_plans_customer_idx ON skene.user_plans (stripe_customer_id);
CREATE INDEX user_plans_updated_idx ON skene.user_plans (updated_at);
