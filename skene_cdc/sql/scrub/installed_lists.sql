-- What each registered table's installed capture kept: its column mode and list.
SELECT table_name, column_mode, column_list FROM skene.captured_tables
