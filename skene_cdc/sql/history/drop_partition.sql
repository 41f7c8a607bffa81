-- A day past the retention goes whole: no DELETE, no VACUUM.
SET LOCAL lock_timeout = '1s';
DROP TABLE IF EXISTS skene.{name};
