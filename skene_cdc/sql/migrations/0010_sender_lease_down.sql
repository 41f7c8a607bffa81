ALTER TABLE skene.deliveries DROP COLUMN IF EXISTS claimed_by;
