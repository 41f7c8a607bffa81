UPDATE skene.cursors SET last_error = %(error)s, last_error_at = now() WHERE name = %(cursor)s
