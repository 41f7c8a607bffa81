-- The users table as migrate registered it, and the comment on skene.users (its hash, and the
-- mapped columns a rebuild by the listener had to show as NULL).
SELECT (SELECT table_name FROM skene.captured_tables WHERE role = 'users') AS table_name,
       obj_description(to_regclass('skene.users'), 'pg_class') AS comment
