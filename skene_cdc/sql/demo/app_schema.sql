-- The demo's sample app: a SaaS with users and the actions they take (what a FastAPI, Flask or
-- Django app would already have). skene captures both tables; it adds nothing to them.
CREATE TABLE users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE user_actions (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    action_type text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_actions_user_idx ON user_actions (user_id, action_type);
