-- `skene-cdc check`: plan and start a condition query without reading a row ($1 is NULL). The
-- join on false yields exactly one row of NULLs under the query's own column names, so the
-- fence (skene.condition_rows) can report them although the query returns nothing.
SELECT q.* FROM (SELECT) AS one LEFT JOIN (
{query}
) AS q ON false
