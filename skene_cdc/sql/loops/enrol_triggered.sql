-- Database/event triggers enrol the user; the window (`within`) runs from the event's time.
-- Activation's episode is 'activation' (once ever); retention's is the user's current spell.
INSERT INTO skene.enrolments (loop, step, user_id, episode, expires_at, context)
SELECT %(loop)s, %(step)s, t.user_id,
       CASE WHEN %(spell)s
            THEN coalesce((SELECT skene.spell_key(a.last_activity_at) FROM skene.user_activity a
                           WHERE a.user_id = t.user_id), 'spell:none')
            ELSE %(episode)s END || %(suffix)s,
       t.at + %(within)s::interval,
       jsonb_build_object('trigger_event_id', t.event_id)
FROM unnest(%(users)s::text[], %(ats)s::timestamptz[], %(event_ids)s::bigint[])
     AS t(user_id, at, event_id)
ORDER BY t.user_id
ON CONFLICT ON CONSTRAINT enrolments_once_per_episode DO NOTHING
