-- A drained table: every row in it has been consumed. A reader holding it (psql) makes this
-- give up after lock_timeout and try again later; no writer can be waiting, none writes here.
SET LOCAL lock_timeout = '200ms';
TRUNCATE skene.{table};
UPDATE skene.queue_tables SET opened_at = NULL, closed_at = NULL, closed_xmax = NULL
WHERE part = {part};
