-- What an app without skene runs: scan every activity row, group by user.
SELECT user_id FROM user_actions GROUP BY user_id HAVING max(created_at) < now() - interval '7 days'
