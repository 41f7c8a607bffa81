SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'skene' AND table_name = 'users' ORDER BY ordinal_position
