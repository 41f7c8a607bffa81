DROP FUNCTION IF EXISTS skene.users_by_id(text[]);
DROP VIEW IF EXISTS skene.users;
DROP FUNCTION IF EXISTS skene.users_rows();
