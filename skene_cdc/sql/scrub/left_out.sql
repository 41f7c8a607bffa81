-- Columns capture now leaves out of {table_name} that it used to copy: removed from everything
-- skene stored of them (a secret captured before an upgrade or a longer exclude list must not
-- stay behind). Only rows holding one of the keys are rewritten.
UPDATE skene.events
SET data = data - {keys}::text[], old_data = old_data - {keys}::text[]
WHERE table_name = {table_name} AND (data ?| {keys}::text[] OR old_data ?| {keys}::text[]);
-- Rows the consumer set aside keep their data as text.
UPDATE skene.quarantine
SET data = (SELECT json_object_agg(j.key, j.value) FROM json_each(data::json) j
            WHERE j.key <> ALL ({keys}::text[]))::text
WHERE tbl = {relid} AND data IS NOT NULL AND json_typeof(data::json) = 'object'
  AND EXISTS (SELECT 1 FROM json_each(data::json) j WHERE j.key = ANY ({keys}::text[]));
-- The last activity's data that skene.users shows (activity tables' rows).
UPDATE skene.user_activity
SET last_event_data = last_event_data - {keys}::text[]
WHERE {activity} AND last_event_data ?| {keys}::text[];
-- What deliveries were rendered with: the event that triggered them, and the user's row.
UPDATE skene.deliveries
SET context = jsonb_set(context, '{{event,data}}', (context #> '{{event,data}}') - {keys}::text[])
WHERE context #>> '{{event,table}}' = {table_name}
  AND jsonb_typeof(context #> '{{event,data}}') = 'object'
  AND (context #> '{{event,data}}') ?| {keys}::text[];
UPDATE skene.deliveries
SET context = jsonb_set(context, '{{user}}', (context -> 'user') - {keys}::text[])
WHERE {users} AND jsonb_typeof(context -> 'user') = 'object' AND (context -> 'user') ?| {keys}::text[];
