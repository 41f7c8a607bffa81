-- A FastAPI/Flask-style app: users, their actions, and the app's own Alembic version table
-- (skene must never touch it).
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
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('app_0042');
