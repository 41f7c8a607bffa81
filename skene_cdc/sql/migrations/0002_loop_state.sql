-- skene 0002: loop state. The deliveries outbox: a loop's decision to send inserts a row here in the
-- same transaction as the decision; the sender drains it. The unique key makes a second delivery
-- for the same (loop, user, step, episode) impossible, whatever crashes or how many listeners run.

CREATE TABLE skene.deliveries (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loop                text        NOT NULL,
    user_id             text        NOT NULL,
    step                integer     NOT NULL,
    episode             text        NOT NULL,
    channel             text        NOT NULL DEFAULT 'email',
    provider            text        NOT NULL,
    template            text        NOT NULL,
    variant             text,
    to_address          text,
    context             jsonb       NOT NULL DEFAULT '{}',
    state               text        NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'skipped')),
    attempts            integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL DEFAULT 4,
    backoff             text        NOT NULL DEFAULT 'exponential'
                        CHECK (backoff IN ('exponential', 'linear', 'fixed')),
    base_delay          interval    NOT NULL DEFAULT '2 seconds',
    max_delay           interval    NOT NULL DEFAULT '1 hour',
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    idempotency_key     text        NOT NULL,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    CONSTRAINT deliveries_once_per_episode UNIQUE (loop, user_id, step, episode),
    CONSTRAINT deliveries_idempotency_key UNIQUE (idempotency_key)
);
-- The sender's queue: only rows still to send are indexed.
CREATE INDEX deliveries_due_idx ON skene.deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_user_idx ON skene.deliveries (user_id, loop);

-- One row per (loop, user, episode): the funnel. enrolled -> met (condition held) -> sent ->
-- converted (the loop's goal), or expired/failed. Loop engine and freemium gate both write here.
CREATE TABLE skene.enrolments (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loop              text        NOT NULL,
    user_id           text        NOT NULL,
    episode           text        NOT NULL,
    variant           text,
    state             text        NOT NULL DEFAULT 'enrolled'
                      CHECK (state IN ('enrolled', 'met', 'sent', 'converted', 'expired', 'failed')),
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    met_at            timestamptz,
    sent_at           timestamptz,
    converted_at      timestamptz,
    evaluations       integer     NOT NULL DEFAULT 0,
    last_evaluated_at timestamptz,
    last_error        text,
    context           jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT enrolments_once_per_episode UNIQUE (loop, user_id, episode)
);
CREATE INDEX enrolments_open_idx ON skene.enrolments (loop, user_id) WHERE state IN ('enrolled', 'met', 'sent');
