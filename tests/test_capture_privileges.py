"""Capture cannot escalate (issue 11 item 1), probed as an attacker would: a non-superuser app
role `app` owns its tables, and `migrate` runs as a superuser the way most teams run it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, consume, run_cli, scalar, write_config
from tests.pgcluster import PgCluster

APP_SCHEMA = """
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name text,
                    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE user_actions (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id),
                           action_type text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""
# The reproduction from the issue: a cast to json on the app's own enum that makes its caller's
# role superuser. to_json() runs it for every row of a table with such a column.
ESCALATE = """
CREATE TYPE mood AS ENUM ('x');
CREATE FUNCTION mood_json(mood) RETURNS json LANGUAGE plpgsql AS
  $$BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', '{role}'); RETURN to_json($1::text); END$$;
CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
ALTER TABLE users ADD COLUMN m mood;
"""


@pytest.fixture
def owned_app(pg: PgCluster) -> Iterator[tuple[str, str, str]]:
    """A database whose tables belong to a fresh non-superuser login role; (superuser url, app
    url, app role)."""
    role = f"app_{uuid.uuid4().hex[:8]}"
    name = f"priv_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"CREATE DATABASE {name} OWNER {role}")
    admin, app = pg.url(name), pg.url(name).replace("postgres@", f"{role}@")
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
    try:
        yield admin, app, role
    finally:
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
            conn.execute(f"DROP ROLE {role}")


def is_super(url: str, role: str) -> bool:
    return bool(scalar(url, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)))


def test_a_cast_reached_by_the_trigger_runs_without_the_owners_rights(
        owned_app: tuple[str, str, str], tmp_path: Path) -> None:
    admin, app, role = owned_app
    config = write_config(tmp_path, DEFAULT_CONFIG)
    runner.migrate(admin, config)  # as a superuser
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute(ESCALATE.replace("{role}", role))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            # The cast runs as the capture role, which may not ALTER ROLE: the app's own code
            # fails its own write, and nobody became superuser.
            conn.execute("INSERT INTO users (email, name, m) VALUES ('e@x.test', 'E', 'x')")
    assert not is_super(admin, role)
    # The trigger's owner is the NOLOGIN capture role, never the superuser that ran migrate.
    owner = scalar(admin, "SELECT r.rolname || ':' || r.rolsuper || ':' || r.rolcanlogin "
                          "FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
                          "WHERE p.oid = 'skene.capture()'::regprocedure")
    assert owner == "skene_capture:false:false"
    # Without the cast, the same app role writes and skene captures, with no grant on skene.
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute("DROP CAST (mood AS json)")
        conn.execute("INSERT INTO users (email, name, m) VALUES ('f@x.test', 'F', 'x')")
    consume(admin, config)
    assert scalar(admin, "SELECT data->>'m' FROM skene.events WHERE user_id = "
                         "(SELECT id::text FROM users WHERE email = 'f@x.test')") == "x"


def test_another_role_can_neither_attach_capture_nor_forge_events(
        owned_app: tuple[str, str, str], tmp_path: Path) -> None:
    admin, app, role = owned_app
    runner.migrate(admin, write_config(tmp_path, DEFAULT_CONFIG))
    # The old docs told listeners to have USAGE on schema skene: even with it, the capture
    # function is not theirs to call or attach.
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA skene TO {role}")
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (id int, m text)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="function skene.capture"):
            conn.execute("CREATE TRIGGER t AFTER INSERT ON mine FOR EACH ROW "
                         "EXECUTE FUNCTION skene.capture()")
        for table in ("skene.queue_0", "skene.queue_1", "skene.queue_2"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"INSERT INTO {table} (op, data) VALUES ('insert', '{{}}')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM skene.enqueue('api', NULL, ARRAY['1'], ARRAY['x'], "
                         "ARRAY[true], ARRAY[now()], ARRAY['{}'::jsonb], ARRAY['forged'])")
    assert scalar(admin, "SELECT count(*) FROM skene.queue") == 0
    # No skene function is left executable by PUBLIC.
    assert scalar(admin, """
        SELECT count(*) FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE p.pronamespace = 'skene'::regnamespace AND a.grantee = 0""") == 0


def test_check_names_a_superuser_owned_definer_and_migrate_puts_it_right(
        db_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, DEFAULT_CONFIG)
    assert "0 errors" in run_cli("check", url=db_url, config_path=cfg).stdout
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER FUNCTION skene.capture() OWNER TO postgres")
    out = run_cli("check", url=db_url, config_path=cfg, check=False)
    assert out.returncode == 1, out.stdout + out.stderr  # check's "problems found"
    assert "skene.capture() (owner postgres) is SECURITY DEFINER and owned by a superuser" \
        in out.stdout
    fixed = run_cli("migrate", url=db_url, config_path=cfg).stdout
    assert "capture role skene_capture: owns skene.capture(), may only append to the queue" in fixed
    assert "0 errors" in run_cli("check", url=db_url, config_path=cfg).stdout
