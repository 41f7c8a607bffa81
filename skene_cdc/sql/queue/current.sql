-- The queue table to append to, read after this transaction has its id (see rotation.py), with
-- the settings the capture trigger pins, so what is written reads the same.
SELECT pg_current_xact_id() IS NOT NULL AS has_id,
       'queue_' || pg_sequence_last_value('skene.queue_rotation') AS "table"
