-- One chunk of old events into the history, in id order; each chunk is its own short
-- transaction, so no lock is held for long (nothing but skene reads these tables).
WITH moved AS (
    DELETE FROM skene.events_legacy
    WHERE id IN (SELECT id FROM skene.events_legacy ORDER BY id LIMIT %(n)s)
    RETURNING *
)
INSERT INTO skene.events (id, txid, occurred_at, captured_at, source, table_name, op, user_id,
                          event, activity, data, old_data, lsn, seq, external_id)
SELECT id, txid, occurred_at, captured_at, source, table_name, op, user_id, event, activity,
       data, old_data, lsn, seq, external_id
FROM moved
