-- skene.users_by_id(ids): the rows of skene.users for these user ids. The view's user_id is the
-- app's id cast to text, which no index on the app's table can serve, so `WHERE user_id =
-- ANY(...)` reads every user (seconds at a million users, on every listener batch and every
-- sender claim). This compares the id in its own type first, which the primary key serves, then
-- exactly as the view would. Inlined by the planner (plain SQL, STABLE). Generated with the
-- view by `skene-cdc migrate`.
CREATE FUNCTION skene.users_by_id(ids text[]) RETURNS SETOF skene.users
LANGUAGE sql STABLE AS {body};
REVOKE ALL ON FUNCTION skene.users_by_id(text[]), skene.users_rows() FROM PUBLIC;
