-- skene 0004: the email sender. A lease index so rows whose sender died mid-send are found
-- cheaply, a wake-up for the sender when deliveries are enqueued, and a view to read in psql.

-- The email exactly as first rendered (from, to, subject, html, text). A retry re-sends these
-- bytes: with the same idempotency key a provider rejects a different payload (a user renamed
-- meanwhile, "8 days ago" become "9 days ago"), so a retry must never re-render. html and text
-- are dropped once the email is sent; subject and recipient stay as the record of what went out.
ALTER TABLE skene.deliveries ADD COLUMN rendered jsonb;

-- A row in state 'sending' carries its lease expiry in next_attempt_at: when it passes, the
-- sender that claimed it is presumed dead and the row is retried with the same idempotency key.
CREATE INDEX deliveries_lease_idx ON skene.deliveries (next_attempt_at) WHERE state = 'sending';

-- One NOTIFY per enqueueing statement (folded per transaction by PostgreSQL). Deliveries are
-- inserted by the listener's batch transactions, never by the app's own writes, so the global
-- commit lock a NOTIFY takes costs nothing on the app's hot path.
CREATE FUNCTION skene.notify_deliveries() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    PERFORM pg_notify('skene_deliveries', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_notify AFTER INSERT ON skene.deliveries
FOR EACH STATEMENT EXECUTE FUNCTION skene.notify_deliveries();

-- Deliveries as a person reads them: newest first, with why a retry or a dead letter happened.
CREATE VIEW skene.delivery_log AS
SELECT d.id, d.state, d.loop, d.user_id, d.step, d.episode, d.template, d.variant, d.provider,
       d.to_address, d.rendered ->> 'subject' AS subject, d.attempts, d.max_attempts,
       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       CASE WHEN d.state = 'sending' THEN d.next_attempt_at END AS lease_expires_at,
       d.last_error, d.provider_message_id, d.idempotency_key, d.created_at, d.updated_at,
       d.sent_at
FROM skene.deliveries d
ORDER BY d.updated_at DESC, d.id DESC;
