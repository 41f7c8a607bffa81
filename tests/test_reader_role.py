"""A SQL condition cannot act, whatever it calls (issue 11, item 2).

Conditions run read-only, as the NOLOGIN reader role, inside its security-definer function: a
hidden call (ts_stat and friends, or any function of the app's that runs a string) gets the
reader's rights, which are SELECT on the configured tables and skene's read views, and nothing
else. Each escape is tried with DATABASE_URL as a superuser and as a non-superuser app role that
owns its tables, the way the issue reproduced them."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from skene_cdc.handlers.loops.conditions import evaluate
from skene_cdc.handlers.loops.plan import StepPlan, require_plans
from skene_cdc.handlers.loops.safety import QueryInfo, UnsafeQuery, inspect_query
from tests.conftest import DEFAULT_CONFIG, clone, drop, run_cli, scalar, write_config
from tests.pgcluster import PgCluster

_names = itertools.count()

READER_LOOP = """
loops:
  - name: probe
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition:
          type: query
          query: SELECT id AS user_id FROM users WHERE EXISTS (SELECT 1 FROM run_sql(%s))
          timeout: 10s
        action: {type: email, template: hello}
"""

# An app's own helper that runs a string: pglast cannot see into it, like ts_stat.
RUN_SQL = """CREATE FUNCTION public.run_sql(q text) RETURNS SETOF text LANGUAGE plpgsql AS
$$BEGIN RETURN QUERY EXECUTE q; END$$"""


def url_as(url: str, role: str) -> str:
    return re.sub(r"//[^@]+@", f"//{role}@", url)


def port_of(url: str) -> str:
    m = re.search(r":(\d+)/", url)
    assert m
    return m.group(1)


@pytest.fixture(params=["superuser", "app"])
def target(request: pytest.FixtureRequest, pg: PgCluster, app_url: str, tmp_path: Path
           ) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, superuser URL) of a database with skene migrated by DATABASE_URL's role, a
    canary table, dblink and a string-running helper. The app role owns the app's tables, may
    create schema skene, and was made a member of the reader and capture roles by a superuser once
    (what `migrate` asks a DBA to do when the app role may not create roles)."""
    dbname = app_url.rsplit("/", 1)[1]
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")
        conn.execute("CREATE TABLE canary (note text)")
        conn.execute(RUN_SQL)
    role = None
    url = app_url
    if request.param == "app":
        role = f"app_{os.getpid()}_{next(_names)}"
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role}"')
            for table in ("users", "user_actions", "alembic_version", "canary"):
                conn.execute(f'ALTER TABLE {table} OWNER TO "{role}"')
            conn.execute(f'ALTER FUNCTION run_sql(text) OWNER TO "{role}"')
            for skene_role in ("skene_reader", "skene_capture"):
                conn.execute(f"DO $$BEGIN CREATE ROLE {skene_role} NOLOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
                conn.execute(f'GRANT {skene_role} TO "{role}"')
        url = url_as(app_url, role)
    write_config(tmp_path, DEFAULT_CONFIG + READER_LOOP % "'SELECT 1::text'")
    run_cli("migrate", url=url, config_path=tmp_path / "skene.yaml")
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('a@x.test', 'A')")
        conn.commit()
    yield url, app_url
    if role is not None:
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def hostile_plan(tmp_path: Path, query: str) -> StepPlan:
    """A plan whose query skips the pglast check: what reaches the database is what the role
    allows, not what the parser caught."""
    config = write_config(tmp_path, DEFAULT_CONFIG + READER_LOOP % "'SELECT 1::text'")
    plan = require_plans(config)[0]
    return dataclasses.replace(plan, query=QueryInfo(text=query))


def evaluate_as(url: str, plan: StepPlan) -> tuple[list[str], dict[str | None, str]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        outcome = evaluate(conn, plan, None)
        conn.rollback()
    return [c.user_id for c in outcome.candidates], outcome.errors


def ts_stat(inner: str) -> str:
    """`SELECT id AS user_id FROM users, ts_stat('SELECT to_tsvector((<inner>)::text)')`."""
    quoted = f"SELECT to_tsvector(({inner})::text)".replace("'", "''")
    return f"SELECT id AS user_id FROM users, ts_stat('{quoted}') AS s"


def test_ts_stat_cannot_terminate_another_session(target: tuple[str, str],
                                                  tmp_path: Path) -> None:
    url, _admin = target
    with psycopg.connect(url, autocommit=True) as victim:  # same role as the listener
        pid = victim.info.backend_pid
        users, errors = evaluate_as(url, hostile_plan(
            tmp_path, ts_stat(f"pg_terminate_backend({pid})")))
        assert users == [] and errors, "the condition should have failed"
        assert "terminate" in str(errors).lower() or "permission" in str(errors).lower()
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still alive


def test_ts_stat_cannot_read_server_files(target: tuple[str, str], tmp_path: Path) -> None:
    url, _admin = target
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    users, errors = evaluate_as(url, hostile_plan(
        tmp_path, ts_stat("pg_read_file('/etc/hostname')")))
    assert users == []
    assert "permission denied for function pg_read_file" in str(errors)
    if hostname:
        assert hostname not in str(errors)


def test_dblink_cannot_write_through_a_second_connection(target: tuple[str, str],
                                                          tmp_path: Path) -> None:
    url, admin = target
    dbname = admin.rsplit("/", 1)[1]
    write = (f"dblink_exec('host=127.0.0.1 port={port_of(admin)} dbname={dbname} "
             f"user=postgres', 'INSERT INTO canary VALUES (''written'')')")
    users, errors = evaluate_as(url, hostile_plan(tmp_path, ts_stat(write)))
    assert users == [] and errors
    assert scalar(admin, "SELECT count(*) FROM canary") == 0


def test_a_condition_cannot_set_its_role_back(target: tuple[str, str], tmp_path: Path) -> None:
    """SET LOCAL ROLE alone could be undone from inside the condition (the session user may go
    back to itself); the security-definer fence refuses the change."""
    url, _admin = target
    session_user = str(scalar(url, "SELECT session_user"))
    query = ("SELECT id AS user_id FROM users, "
             f"ts_stat('SELECT to_tsvector(set_config(''role'', ''{session_user}'', true))') s, "
             "ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))') t")
    users, errors = evaluate_as(url, hostile_plan(tmp_path, query))
    assert users == []
    assert 'cannot set parameter "role" within security-definer function' in str(errors)


def test_reading_a_table_skene_yaml_does_not_name_fails(target: tuple[str, str],
                                                        tmp_path: Path) -> None:
    url, admin = target
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE TABLE secrets (user_id bigint, token text)")
        conn.execute("INSERT INTO secrets VALUES (1, 'hunter2')")
    users, errors = evaluate_as(url, hostile_plan(
        tmp_path, "SELECT user_id FROM secrets WHERE token = 'hunter2'"))
    assert users == []
    assert "permission denied for table secrets" in str(errors)
    # The configured tables and skene's views read fine, as the same role.
    users, errors = evaluate_as(url, hostile_plan(
        tmp_path, "SELECT u.id AS user_id FROM users u JOIN skene.users s "
                  "ON s.user_id = u.id::text"))
    assert errors == {} and len(users) == 1


def test_dry_run_through_an_app_function_writes_nothing_and_says_so(
        target: tuple[str, str], tmp_path: Path) -> None:
    """`loops run --dry-run` with a condition that passes pglast (it calls the app's own helper)
    but writes through dblink: the write fails, and nothing is in the canary table."""
    url, admin = target
    dbname = admin.rsplit("/", 1)[1]
    inner = (f"SELECT dblink_exec('host=127.0.0.1 port={port_of(admin)} dbname={dbname} "
             "user=postgres', 'INSERT INTO canary VALUES (1)')")
    literal = "'" + inner.replace("'", "''") + "'"
    write_config(tmp_path, DEFAULT_CONFIG + READER_LOOP % literal)
    (tmp_path / "templates" / "hello.html").write_text('---\nsubject: "Hi"\n---\n<p>hi</p>\n')
    proc = run_cli("loops", "run", "probe", "--dry-run", url=url,
                   config_path=tmp_path / "skene.yaml", check=False)
    assert scalar(admin, "SELECT count(*) FROM canary") == 0, proc.stdout
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "password is required" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("query", "name"), [
    ("SELECT id AS user_id FROM users, ts_stat('SELECT to_tsvector(1::text)')", "ts_stat"),
    ("SELECT id AS user_id FROM users WHERE ts_rewrite('a'::tsquery, 'SELECT 1') IS NULL",
     "ts_rewrite"),
    ("SELECT query_to_xml('SELECT 1', true, true, '') AS user_id", "query_to_xml"),
    ("SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '') AS user_id",
     "query_to_xml_and_xmlschema"),
    ("SELECT cursor_to_xml('c', 1, true, true, '') AS user_id", "cursor_to_xml"),
    ("SELECT cursor_to_xmlschema('c', true, true, '') AS user_id", "cursor_to_xmlschema"),
    ("SELECT table_to_xml('secrets', true, true, '') AS user_id", "table_to_xml"),
    ("SELECT schema_to_xml('public', true, true, '') AS user_id", "schema_to_xml"),
    ("SELECT database_to_xml(true, true, '') AS user_id", "database_to_xml"),
    ("SELECT (xpath('//id/text()', query_to_xml('SELECT id FROM secrets', true, true, '')))[1]"
     " AS user_id", "query_to_xml"),
    ("SELECT dblink_exec('dbname=x', 'DELETE FROM users') AS user_id", "dblink_exec"),
    ("SELECT * FROM crosstab('SELECT 1') AS t(user_id int)", "crosstab"),
])
def test_string_executing_functions_are_refused_at_load(query: str, name: str) -> None:
    with pytest.raises(UnsafeQuery) as exc:
        inspect_query(query)
    assert f"calls {name}()" in exc.value.reason


def test_a_copy_statement_is_named_copy(tmp_path: Path) -> None:
    with pytest.raises(UnsafeQuery) as exc:
        inspect_query("COPY users TO STDOUT")
    assert "it is COPY, not a SELECT" in exc.value.reason


GRANTS = """SELECT n.nspname || '.' || c.relname, a.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE a.grantee = to_regrole(%s)"""


def _reader_config(tmp_path: Path, reader: str, extra: str = "") -> Path:
    write_config(tmp_path, DEFAULT_CONFIG + f"roles: {{reader: {reader}}}\n" + extra)
    return tmp_path / "skene.yaml"


@pytest.fixture
def reader_name(pg: PgCluster) -> Iterator[str]:
    """A reader role of this test's own (role attributes are cluster-wide)."""
    name = f"reader_{os.getpid()}_{next(_names)}"
    yield name
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        for db in [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")]:
            with psycopg.connect(pg.url(db), autocommit=True) as c:
                if c.execute("SELECT to_regrole(%s) IS NOT NULL", (name,)).fetchone() == (True,):
                    c.execute(f'DROP OWNED BY "{name}"')
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_migrate_sets_up_the_reader_once_and_uninstall_drops_it(
        pg: PgCluster, app_url: str, tmp_path: Path, reader_name: str) -> None:
    cfg = _reader_config(tmp_path, reader_name)
    shown = run_cli("migrate", "--sql", url=app_url, config_path=cfg).stdout
    assert f'CREATE ROLE "{reader_name}" NOLOGIN' in shown
    assert f'GRANT SELECT ON TABLE "public"."users" TO "{reader_name}"' in shown
    assert scalar(app_url, "SELECT to_regrole(%s) IS NULL", (reader_name,)) is True
    run_cli("migrate", url=app_url, config_path=cfg)
    again = run_cli("migrate", url=app_url, config_path=cfg).stdout
    assert "capture: in step with skene.yaml, nothing changed" in again, again
    assert "-- role" not in run_cli("migrate", "--sql", url=app_url, config_path=cfg).stdout
    # Exactly the documented grants, nothing else.
    grants = {tuple(r) for r in psycopg.connect(app_url).execute(GRANTS, (reader_name,))}
    assert ("public.users", "SELECT") in grants and ("public.user_actions", "SELECT") in grants
    assert ("skene.users", "SELECT") in grants and ("skene.user_activity", "SELECT") in grants
    assert {p for _, p in grants} == {"SELECT"}
    assert not any(t.startswith("skene.deliveries") for t, _ in grants)
    # Another database using the same role keeps it alive through this database's uninstall.
    other = clone(pg, "app_template")
    try:
        run_cli("migrate", url=pg.url(other), config_path=cfg)
        out = run_cli("uninstall", "--yes", url=app_url, config_path=cfg).stdout
        assert f"kept role {reader_name}: still used by {other}" in out, out
        assert psycopg.connect(app_url).execute(GRANTS, (reader_name,)).fetchall() == []
        out = run_cli("uninstall", "--yes", url=pg.url(other), config_path=cfg).stdout
        assert f"dropped role {reader_name}" in out, out
    finally:
        drop(pg, other)
    assert scalar(app_url, "SELECT to_regrole(%s) IS NULL", (reader_name,)) is True


def test_migrate_as_an_app_role_that_may_not_create_roles_is_refused_with_the_fix(
        app_url: str, tmp_path: Path, reader_name: str) -> None:
    role = f"app_{os.getpid()}_{next(_names)}"
    dbname = app_url.rsplit("/", 1)[1]
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role}"')
        for table in ("users", "user_actions", "alembic_version"):
            conn.execute(f'ALTER TABLE {table} OWNER TO "{role}"')
    try:
        proc = run_cli("migrate", url=url_as(app_url, role),
                       config_path=_reader_config(tmp_path, reader_name), check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f'CREATE ROLE "{reader_name}" NOLOGIN; GRANT "{reader_name}" TO "{role}";' \
            in proc.stderr
        assert "Traceback" not in proc.stderr
        assert scalar(app_url, "SELECT to_regnamespace('skene') IS NULL") is True
    finally:
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_check_reports_a_missing_or_overpowered_reader(app_url: str, tmp_path: Path,
                                                       reader_name: str) -> None:
    cfg = _reader_config(tmp_path, reader_name)
    run_cli("migrate", url=app_url, config_path=cfg)
    assert "0 errors" in run_cli("check", url=app_url, config_path=cfg).stdout
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{reader_name}" CREATEDB BYPASSRLS')
        conn.execute(f'GRANT pg_read_server_files, pg_signal_backend TO "{reader_name}"')
        conn.execute(f'GRANT INSERT, DELETE ON users TO "{reader_name}"')
        conn.execute(f'GRANT CREATE ON SCHEMA public TO "{reader_name}"')
    out = run_cli("check", url=app_url, config_path=cfg, check=False).stdout
    for finding in ("attribute BYPASSRLS", "attribute CREATEDB", "member of pg_read_server_files",
                    "member of pg_signal_backend", "write DELETE, INSERT on public.users",
                    "create CREATE on schema public"):
        assert f"has more rights than reading: {finding}" in out, out
    # migrate takes all of it away again.
    run_cli("migrate", url=app_url, config_path=cfg)
    assert "0 errors" in run_cli("check", url=app_url, config_path=cfg).stdout
    other = _reader_config(tmp_path, reader_name + "_missing")
    out = run_cli("check", url=app_url, config_path=other, check=False).stdout
    assert f"the role {reader_name}_missing (roles.reader)" in out and "does not exist" in out
