-- A `query` condition, checked by pglast to be one SELECT, run read-only: each row as jsonb so
-- any column types reach templates as `user.*`.
SELECT to_jsonb(q) AS row FROM (
{query}
) AS q
