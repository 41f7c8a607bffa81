-- Where capture of a table began, as the snapshot taken right after its trigger was created (in
-- the same transaction, holding the trigger's lock): a row version whose writer is visible in it
-- was written without capture; any later writer went through the trigger. Backfill imports only
-- the former. Recorded once: a later drift reinstall must not move it.
INSERT INTO skene.meta (key, value) VALUES ({key}, pg_current_snapshot()::text)
ON CONFLICT (key) DO NOTHING;
