-- Back to one unpartitioned skene.events: the history's rows go back into it, the queue's
-- unconsumed rows stay in the queue (0007's down turns them back into events).
ALTER TABLE skene.cursors ADD COLUMN txid xid8 NOT NULL DEFAULT '0', ADD COLUMN event_id bigint NOT NULL DEFAULT 0;
INSERT INTO skene.events_legacy (id, txid, occurred_at, captured_at, source, table_name, op,
                                 user_id, event, activity, data, old_data, lsn, seq, external_id)
OVERRIDING SYSTEM VALUE
SELECT id, txid, occurred_at, captured_at, source, table_name, op, user_id, event, activity,
       data, old_data, lsn, seq, external_id
FROM skene.events;
UPDATE skene.cursors c SET txid = coalesce((SELECT max(txid) FROM skene.events_legacy), '0'),
                           event_id = coalesce((SELECT max(id) FROM skene.events_legacy), 0);
SELECT setval(pg_get_serial_sequence('skene.events_legacy', 'id'),
              coalesce((SELECT max(id) FROM skene.events_legacy), 0) + 1, false);
DROP FUNCTION IF EXISTS skene.event_time(text);
DROP FUNCTION IF EXISTS skene.enqueue(text, text, text[], text[], boolean[], timestamptz[], jsonb[], text[]);
DROP VIEW skene.queue_pending;
DROP TABLE skene.quarantine, skene.external_events, skene.events;  -- and its sequence
ALTER TABLE skene.events_legacy RENAME CONSTRAINT events_legacy_op_check TO events_op_check;
ALTER TABLE skene.events_legacy RENAME CONSTRAINT events_legacy_source_check TO events_source_check;
ALTER INDEX skene.events_legacy_logical_key RENAME TO events_logical_key;
ALTER INDEX skene.events_legacy_external_idx RENAME TO events_external_idx;
ALTER INDEX skene.events_legacy_user_idx RENAME TO events_user_idx;
ALTER INDEX skene.events_legacy_cursor_idx RENAME TO events_cursor_idx;
ALTER INDEX skene.events_legacy_pkey RENAME TO events_pkey;
ALTER SEQUENCE skene.events_legacy_id_seq RENAME TO events_id_seq;
ALTER TABLE skene.events_legacy RENAME TO events;
