-- The retention in force, for `status` (written by the listener and by migrate).
INSERT INTO skene.meta (key, value) VALUES ('events.retention', %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
