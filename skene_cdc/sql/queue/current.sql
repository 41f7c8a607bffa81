-- The queue table this transaction appends to (it follows from the transaction's own id, as for a
-- captured row: skene.queue_part).
SELECT 'queue_' || skene.queue_part(pg_current_xact_id()) AS "table"
