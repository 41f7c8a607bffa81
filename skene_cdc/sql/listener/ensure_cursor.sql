INSERT INTO skene.cursors (name) VALUES (%(cursor)s) ON CONFLICT (name) DO NOTHING
