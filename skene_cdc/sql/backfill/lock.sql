-- One backfill per table at a time; held until the batch's transaction ends.
SELECT pg_advisory_xact_lock(hashtext('skene.backfill:' || %(table_name)s))
