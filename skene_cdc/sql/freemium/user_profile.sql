SELECT * FROM skene.users_by_id(ARRAY[%(user_id)s::text])
