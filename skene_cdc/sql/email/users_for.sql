SELECT * FROM skene.users_by_id(%(ids)s::text[])
