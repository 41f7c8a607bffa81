-- The settings skene.capture() pins, for this transaction: rows skene writes itself (backfill)
-- then read exactly as the trigger's.
SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, MDY';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 1;
SET LOCAL bytea_output = 'hex';
SET LOCAL search_path = ''
