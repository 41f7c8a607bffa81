-- The users a decision is about, as templates see them (`user.*`), and the dormancy spell each
-- is in (retention episodes are named by it).
SELECT u.user_id, to_jsonb(u) AS row, skene.spell_key(u.last_activity_at) AS spell
FROM skene.users_by_id(%(users)s::text[]) u
