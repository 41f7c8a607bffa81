INSERT INTO skene.user_activity AS a
    (user_id, first_seen_at, last_activity_at, last_event, last_event_data)
SELECT * FROM unnest(%(user_ids)s::text[], %(first_seen)s::timestamptz[],
                     %(last_seen)s::timestamptz[], %(last_event)s::text[], %(last_data)b::jsonb[])
ON CONFLICT (user_id) DO UPDATE SET
    first_seen_at = least(a.first_seen_at, excluded.first_seen_at),
    last_activity_at = greatest(a.last_activity_at, excluded.last_activity_at),
    last_event = CASE WHEN excluded.last_activity_at >= a.last_activity_at
                      THEN excluded.last_event ELSE a.last_event END,
    last_event_data = CASE WHEN excluded.last_activity_at >= a.last_activity_at
                           THEN excluded.last_event_data ELSE a.last_event_data END,
    updated_at = now()
