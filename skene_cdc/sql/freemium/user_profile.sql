SELECT * FROM skene.users WHERE user_id = %(user_id)s
