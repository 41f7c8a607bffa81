-- The app's own tables (in a real app: its Alembic migrations). skene only reads these and
-- attaches a capture trigger; it never changes their columns or rows.
CREATE TABLE IF NOT EXISTS users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS user_actions (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    action_type text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
