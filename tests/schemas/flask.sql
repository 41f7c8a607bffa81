-- A Flask-SQLAlchemy app (the mega-tutorial shape): the model `User` becomes the table "user",
-- a reserved word; posts by `author_id`, comments by `user_id`, a followers association table.
CREATE TABLE "user" (
    id            serial PRIMARY KEY,
    username      varchar(64) NOT NULL UNIQUE,
    email         varchar(120) NOT NULL UNIQUE,
    password_hash varchar(256),
    about_me      varchar(140),
    last_seen     timestamp without time zone,
    created_on    timestamp without time zone NOT NULL DEFAULT now()
);
CREATE TABLE post (
    id        serial PRIMARY KEY,
    body      varchar(140) NOT NULL,
    timestamp timestamp without time zone NOT NULL DEFAULT now(),
    author_id integer NOT NULL REFERENCES "user" (id)
);
CREATE TABLE comment (
    id         serial PRIMARY KEY,
    body       text NOT NULL,
    user_id    integer NOT NULL REFERENCES "user" (id),
    post_id    integer NOT NULL REFERENCES post (id),
    created_on timestamp without time zone NOT NULL DEFAULT now()
);
CREATE TABLE followers (
    follower_id integer REFERENCES "user" (id),
    followed_id integer REFERENCES "user" (id)
);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('1a2b3c4d5e6f');
