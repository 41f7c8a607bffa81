-- A signup, backdated: skene takes event time from the row, so the demo can replay a month.
INSERT INTO users (email, name, created_at)
VALUES (%(email)s, %(name)s, %(at)s)
RETURNING id
