DROP VIEW IF EXISTS skene.loop_funnel, skene.loop_enrolments;
DROP INDEX IF EXISTS skene.enrolments_convert_idx, skene.enrolments_waiting_idx;
ALTER TABLE skene.enrolments DROP COLUMN IF EXISTS step, DROP COLUMN IF EXISTS failures,
    DROP COLUMN IF EXISTS retry_at;
DROP TABLE IF EXISTS skene.user_events, skene.schedule_firings, skene.loops;
DROP FUNCTION IF EXISTS skene.spell_key(timestamptz), skene.epoch_us(timestamptz);
