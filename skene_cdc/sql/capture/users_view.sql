-- skene.users: the app's users enriched with what skene knows. Generated from skene.yaml by
-- `skene-cdc migrate`. The rows come from skene.users_rows(), a SQL function whose body is a
-- string: PostgreSQL records no dependency on the app's columns for it (a view over them would
-- make the app's own ALTER COLUMN ... TYPE, DROP COLUMN and migrations fail), and the planner
-- still inlines it, so a query on skene.users is planned as if written against the app's table.
-- The comment carries a hash so an unchanged config rewrites nothing.
CREATE FUNCTION skene.users_rows() RETURNS TABLE ({columns})
LANGUAGE sql STABLE AS {body};
CREATE VIEW skene.users AS SELECT * FROM skene.users_rows();
COMMENT ON VIEW skene.users IS {comment};
