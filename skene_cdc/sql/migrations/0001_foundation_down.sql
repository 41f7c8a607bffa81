DROP FUNCTION IF EXISTS skene.capture() CASCADE;
DROP TABLE IF EXISTS skene.user_plans, skene.activity_daily, skene.user_activity, skene.meta,
    skene.captured_tables, skene.listeners, skene.cursors, skene.events;
