-- Activity tables with capture installed (backfilling a table without capture would leave a gap
-- between the backfill and the first captured change), with the columns capture keeps.
SELECT table_name, user_id_column, timestamp_column, event_column, relid, column_mode,
       column_list
FROM skene.captured_tables
WHERE role = 'activity'
ORDER BY table_name
