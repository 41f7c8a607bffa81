-- Record an opt-out or suppression once; an active one for the same subject and scope stays as
-- it is (the first reason is the record). Returns the row only when it is new.
INSERT INTO skene.suppressions AS s
    (user_id, address, scope, reason, source, detail, delivery_id)
VALUES (%(user_id)s, lower(%(address)s), %(scope)s, %(reason)s, %(source)s, %(detail)s,
        %(delivery_id)s)
ON CONFLICT DO NOTHING
RETURNING s.id
