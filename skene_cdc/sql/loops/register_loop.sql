INSERT INTO skene.loops AS l (name, type, opinion, definition)
VALUES (%(name)s, %(type)s, %(opinion)s, %(definition)s)
ON CONFLICT (name) DO UPDATE
SET type = excluded.type, opinion = excluded.opinion, definition = excluded.definition,
    updated_at = now()
WHERE (l.type, l.opinion, l.definition)
      IS DISTINCT FROM (excluded.type, excluded.opinion, excluded.definition)
