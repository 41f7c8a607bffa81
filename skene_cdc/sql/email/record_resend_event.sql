-- A verified Resend webhook event, once: a redelivery (same svix-id) inserts nothing and returns
-- no row.
INSERT INTO skene.resend_events (id, type, created, email_id, delivery_id, user_id, address, data)
VALUES (%(id)s, %(type)s, %(created)s, %(email_id)s, %(delivery_id)s, %(user_id)s, %(address)s,
        %(data)s)
ON CONFLICT (id) DO NOTHING
RETURNING id
