DROP VIEW IF EXISTS skene.delivery_log;
DROP TRIGGER IF EXISTS deliveries_notify ON skene.deliveries;
DROP FUNCTION IF EXISTS skene.notify_deliveries();
DROP INDEX IF EXISTS skene.deliveries_lease_idx;
ALTER TABLE skene.deliveries DROP COLUMN IF EXISTS rendered;
