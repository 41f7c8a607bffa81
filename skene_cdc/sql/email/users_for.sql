SELECT * FROM skene.users WHERE user_id = ANY(%(ids)s::text[])
