-- The body of skene.users (and of skene.users_by_id), filled in from skene.yaml.
SELECT u.{id}::text AS user_id,
       {email} AS email,
       {name} AS name,
       {created_at} AS created_at,
       least({created_at}, a.first_seen_at) AS first_seen_at,
       a.last_activity_at,
       a.last_event,
       a.last_event_data,
       coalesce(w.this_week, 0)::bigint AS activity_this_week,
       coalesce(w.last_week, 0)::bigint AS activity_last_week,
       coalesce(p.plan, 'free') AS plan,
       -- A re-engagement email went out for the dormancy spell the user is in now (the loops
       -- name a spell by the last activity that started it, see skene.spell_key).
       EXISTS (SELECT 1 FROM skene.deliveries r
               WHERE r.user_id = u.{id}::text
                 AND r.episode = skene.spell_key(a.last_activity_at)) AS re_engagement_sent{extra}
FROM {users} u
LEFT JOIN skene.user_activity a ON a.user_id = u.{id}::text
LEFT JOIN skene.user_plans p ON p.user_id = u.{id}::text
LEFT JOIN LATERAL (
    SELECT sum(d.n) FILTER (WHERE d.day > (now() AT TIME ZONE 'UTC')::date - 7) AS this_week,
           sum(d.n) FILTER (WHERE d.day <= (now() AT TIME ZONE 'UTC')::date - 7) AS last_week
    FROM skene.activity_daily d
    WHERE d.user_id = u.{id}::text AND d.day > (now() AT TIME ZONE 'UTC')::date - 14
) w ON true
