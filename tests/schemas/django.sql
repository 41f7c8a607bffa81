-- A Django 5 project: contrib.auth/admin/sessions/contenttypes tables as `manage.py migrate`
-- creates them, plus two apps (projects, tracking) and a profile table.
CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL,
    name varchar(255) NOT NULL, applied timestamptz NOT NULL);
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label varchar(100) NOT NULL,
    model varchar(100) NOT NULL, UNIQUE (app_label, model));
CREATE TABLE auth_permission (id serial PRIMARY KEY, name varchar(255) NOT NULL,
    content_type_id integer NOT NULL REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
    codename varchar(100) NOT NULL, UNIQUE (content_type_id, codename));
CREATE TABLE auth_group (id serial PRIMARY KEY, name varchar(150) NOT NULL UNIQUE);
CREATE TABLE auth_group_permissions (id bigserial PRIMARY KEY,
    group_id integer NOT NULL REFERENCES auth_group (id) DEFERRABLE INITIALLY DEFERRED,
    permission_id integer NOT NULL REFERENCES auth_permission (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE auth_user (
    id           serial PRIMARY KEY,
    password     varchar(128) NOT NULL,
    last_login   timestamptz,
    is_superuser boolean NOT NULL,
    username     varchar(150) NOT NULL UNIQUE,
    first_name   varchar(150) NOT NULL,
    last_name    varchar(150) NOT NULL,
    email        varchar(254) NOT NULL,
    is_staff     boolean NOT NULL,
    is_active    boolean NOT NULL,
    date_joined  timestamptz NOT NULL
);
CREATE TABLE auth_user_groups (id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    group_id integer NOT NULL REFERENCES auth_group (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE auth_user_user_permissions (id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    permission_id integer NOT NULL REFERENCES auth_permission (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE django_admin_log (
    id              serial PRIMARY KEY,
    action_time     timestamptz NOT NULL,
    object_id       text,
    object_repr     varchar(200) NOT NULL,
    action_flag     smallint NOT NULL CHECK (action_flag >= 0),
    change_message  text NOT NULL,
    content_type_id integer REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
    user_id         integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL,
    expire_date timestamptz NOT NULL);
-- The apps.
CREATE TABLE projects_project (
    id         bigserial PRIMARY KEY,
    name       varchar(200) NOT NULL,
    owner_id   integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL
);
CREATE TABLE projects_task (
    id         bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects_project (id) DEFERRABLE INITIALLY DEFERRED,
    user_id    integer REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    title      varchar(200) NOT NULL,
    done       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE projects_membership (
    id         bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects_project (id) DEFERRABLE INITIALLY DEFERRED,
    user_id    integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    joined_at  timestamptz NOT NULL
);
CREATE TABLE tracking_event (
    id         bigserial PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    name       varchar(100) NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE TABLE accounts_profile (
    id      bigserial PRIMARY KEY,
    user_id integer NOT NULL UNIQUE REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    bio     text NOT NULL DEFAULT '',
    avatar  varchar(100)
);
