-- `skene-cdc check`: plan and start a condition query without reading a row ($1 is NULL).
SELECT * FROM (
{query}
) AS q LIMIT 0
