-- A FastAPI + SQLAlchemy/SQLModel app: uuid ids, users with a Stripe customer id, their actions,
-- items they own, tokens (not activity), an API usage log linked by a bare user_id column.
CREATE TABLE users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              varchar(320) NOT NULL UNIQUE,
    full_name          varchar(200),
    hashed_password    text NOT NULL,
    is_active          boolean NOT NULL DEFAULT true,
    stripe_customer_id text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz
);
CREATE TABLE user_actions (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    action_type text NOT NULL,
    payload     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE items (
    id          serial PRIMARY KEY,
    title       text NOT NULL,
    description text,
    owner_id    uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);
CREATE TABLE refresh_tokens (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    token      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE api_usage (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL,
    endpoint   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('f00dcafe');
