-- Back to the session's planner settings for the handlers' queries.
SET LOCAL enable_bitmapscan TO DEFAULT
