INSERT INTO user_actions (user_id, action_type, created_at)
VALUES (%(user_id)s, %(action)s, %(at)s)
