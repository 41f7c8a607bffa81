DROP INDEX IF EXISTS skene.user_plans_updated_idx, skene.user_plans_customer_idx,
    skene.events_external_idx;
ALTER TABLE skene.user_plans
    DROP COLUMN IF EXISTS billing_anchor,
    DROP COLUMN IF EXISTS current_period_end,
    DROP COLUMN IF EXISTS stripe_event_id,
    DROP COLUMN IF EXISTS stripe_event_at;
