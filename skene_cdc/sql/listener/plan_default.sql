-- Back to the session's planner settings for the handlers' queries.
SELECT set_config(name, setting, true)
FROM (VALUES ('enable_bitmapscan'), ('max_parallel_workers_per_gather')) n(name)
CROSS JOIN LATERAL (SELECT reset_val AS setting FROM pg_settings s WHERE s.name = n.name) r
