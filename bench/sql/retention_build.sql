-- Synthetic app data for bench.retention: %(users)s users, %(rows)s activity rows over the last
-- 60 days (uniform: with 20 rows a user, about 1 in 12 is dormant for 7+ days), written straight
-- into the app's tables with triggers off (session_replication_role = replica), then rolled up
-- into skene's tables as the listener would have.
SET session_replication_role = replica;
INSERT INTO users (id, email, name, created_at)
SELECT g, 'user' || g || '@bench.test', 'User ' || g, now() - interval '90 days'
FROM generate_series(1, %(users)s) AS g;
-- No activity within an hour of the 7-day line, so the queries timed minutes apart (each with
-- its own now()) agree on who is dormant.
INSERT INTO user_actions (user_id, action_type, created_at)
SELECT 1 + (g %% %(users)s),
       (ARRAY['login', 'export', 'project_created', 'invite'])[1 + (g %% 4)],
       now() - CASE WHEN ago < interval '7 days' - interval '1 hour' THEN ago
                    ELSE ago + interval '2 hours' END
FROM (SELECT g, random() * interval '60 days' AS ago
      FROM generate_series(1, %(rows)s) AS g) r;
SET session_replication_role = DEFAULT;
INSERT INTO skene.user_activity (user_id, first_seen_at, last_activity_at, last_event)
SELECT user_id::text, min(created_at), max(created_at), 'login'
FROM user_actions GROUP BY user_id;
INSERT INTO skene.activity_daily (user_id, day, event, n)
SELECT user_id::text, (created_at AT TIME ZONE 'UTC')::date, action_type, count(*)
FROM user_actions GROUP BY 1, 2, 3;
INSERT INTO skene.user_events (user_id, event, first_at, last_at, n)
SELECT user_id::text, action_type, min(created_at), max(created_at), count(*)
FROM user_actions GROUP BY 1, 2;
