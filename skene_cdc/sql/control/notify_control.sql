SELECT pg_notify(%(channel)s, %(what)s)
