-- skene.users: the app's users enriched with what skene knows. Generated from skene.yaml by
-- `skene-cdc migrate`; the comment carries a hash so an unchanged config rewrites nothing.
CREATE VIEW skene.users AS
{select};
COMMENT ON VIEW skene.users IS {comment};
