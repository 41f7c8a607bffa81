"""`uninstall` leaves no trace (issues 10 and 11): after migrate, traffic and uninstall, the
catalog is what it was before migrate, in trigger and in logical mode, whether migrate ran as
the superuser owning the app's tables or as a superuser for a non-superuser app role that owns
them (the usual production setup).

What is compared is everything skene could leave behind in the database or the cluster: roles
and their attributes, role memberships, pg_shdepend (what roles own or are granted, in every
database), schemas, functions, triggers, event triggers, publications, replication slots,
replica identities, the effective ACLs of relations, columns, schemas and the database, default
privileges, per-role/database settings, extensions and comments. ACLs are compared as what they
grant (acldefault when NULL): a GRANT followed by its REVOKE leaves an explicit ACL equal to the
default one, which PostgreSQL then keeps spelled out."""

from __future__ import annotations

import itertools
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skene_cdc.listener.replication import LogicalCapture
from tests.conftest import DEFAULT_CONFIG, consume, run_cli, scalar, write_config
from tests.logical_util import dbname, logical_config, wait_for
from tests.pgcluster import PgCluster

_names = itertools.count()

# One query per part of the catalog; each returns rows of text, compared as sets. Names, not
# oids, wherever an oid would differ for an object recreated equal (roles are never recreated:
# a role skene made and dropped does not exist before or after).
SNAPSHOT = {
    "roles": """
        SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
               rolreplication, rolbypassrls, rolconnlimit
        FROM pg_roles""",
    "memberships": """
        SELECT m.roleid::regrole::text, m.member::regrole::text, m.grantor::regrole::text,
               m.admin_option
        FROM pg_auth_members m""",
    "shdepend": """
        SELECT coalesce(d.datname, '(shared)'), s.classid::regclass::text, s.objid, s.objsubid,
               s.refclassid::regclass::text, r.rolname, s.deptype
        FROM pg_shdepend s
        LEFT JOIN pg_database d ON d.oid = s.dbid
        LEFT JOIN pg_roles r ON r.oid = s.refobjid
        WHERE s.refclassid = 'pg_authid'::regclass""",
    "schemas": """
        SELECT n.nspname, pg_get_userbyid(n.nspowner), a.grantee::regrole::text,
               a.grantor::regrole::text, a.privilege_type, a.is_grantable
        FROM pg_namespace n
        LEFT JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a ON true""",
    "relations": """
        SELECT n.nspname, c.relname, c.relkind::text, pg_get_userbyid(c.relowner),
               c.relreplident::text, c.relrowsecurity, a.grantee::regrole::text,
               a.grantor::regrole::text, a.privilege_type, a.is_grantable
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(
            (CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a ON true
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%'""",
    "column_acls": """
        SELECT c.oid::regclass::text, att.attname, a.grantee::regrole::text, a.privilege_type
        FROM pg_attribute att
        JOIN pg_class c ON c.oid = att.attrelid
        CROSS JOIN LATERAL aclexplode(att.attacl) a
        WHERE att.attacl IS NOT NULL""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.prosecdef,
               a.grantee::regrole::text, a.privilege_type
        FROM pg_proc p
        LEFT JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a ON true
        WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace,
                                     'information_schema'::regnamespace)""",
    "types": """
        SELECT t.oid::regtype::text, pg_get_userbyid(t.typowner) FROM pg_type t
        WHERE t.typnamespace NOT IN ('pg_catalog'::regnamespace,
                                     'information_schema'::regnamespace)
          AND t.typnamespace::regnamespace::text NOT LIKE 'pg\\_toast%'""",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, t.tgfoid::regproc::text, t.tgenabled::text
        FROM pg_trigger t WHERE NOT t.tgisinternal""",
    "event_triggers": "SELECT evtname, evtevent, evtfoid::regproc::text FROM pg_event_trigger",
    "rules_policies": """
        SELECT 'rule', ev_class::regclass::text, rulename FROM pg_rewrite WHERE oid >= 16384
        UNION ALL SELECT 'policy', polrelid::regclass::text, polname FROM pg_policy""",
    "publications": """
        SELECT p.pubname, pg_get_userbyid(p.pubowner), coalesce(pt.schemaname, ''),
               coalesce(pt.tablename, '')
        FROM pg_publication p LEFT JOIN pg_publication_tables pt ON pt.pubname = p.pubname""",
    "slots": "SELECT slot_name, plugin, slot_type, coalesce(database, '') "
             "FROM pg_replication_slots",
    "database": """
        SELECT d.datname, pg_get_userbyid(d.datdba), a.grantee::regrole::text,
               a.privilege_type
        FROM pg_database d
        LEFT JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a ON true
        WHERE d.datname = current_database()""",
    "default_acls": """
        SELECT pg_get_userbyid(d.defaclrole), coalesce(d.defaclnamespace::regnamespace::text,
               ''), d.defaclobjtype::text, d.defaclacl::text
        FROM pg_default_acl d""",
    "settings": """
        SELECT coalesce(d.datname, ''), coalesce(pg_get_userbyid(s.setrole), ''),
               s.setconfig::text
        FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase""",
    "extensions": "SELECT extname, extversion FROM pg_extension",
    "comments": """
        SELECT classoid::regclass::text, objoid, objsubid, description FROM pg_description
        WHERE objoid >= 16384
        UNION ALL SELECT classoid::regclass::text, objoid, 0, description FROM pg_shdescription
        WHERE objoid >= 16384""",
}


def snapshot(url: str) -> dict[str, set[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        return {part: set(conn.execute(query).fetchall()) for part, query in SNAPSHOT.items()}


def assert_same(before: dict[str, set[tuple[object, ...]]],
                after: dict[str, set[tuple[object, ...]]]) -> None:
    diff = {part: {"left behind": sorted(after[part] - before[part], key=str),
                   "lost": sorted(before[part] - after[part], key=str)}
            for part in SNAPSHOT if after[part] != before[part]}
    assert not diff, f"uninstall left a trace: {diff}"


@dataclass
class Setup:
    url: str            # DATABASE_URL migrate and uninstall run with
    app_url: str        # what the app writes with
    config: Path
    capture: str        # this test's own role names (roles are cluster-wide)
    reader: str
    admin: str          # a superuser's, to look at the catalog and the queue


def url_as(url: str, role: str) -> str:
    return re.sub(r"//[^@]+@", f"//{role}@", url)


USED_HERE = """SELECT EXISTS (SELECT 1 FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
                 WHERE d.datname = current_database() AND s.refobjid = to_regrole(%s))"""


@pytest.fixture
def roles(pg: PgCluster) -> Iterator[tuple[str, str]]:
    """A capture and a reader role name of this test's own; whatever a failing test left of them
    is removed afterwards from every database."""
    n = f"{os.getpid()}_{next(_names)}"
    names = (f"trace_capture_{n}", f"trace_reader_{n}")
    yield names
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        dbs = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")]
        for db in dbs:
            with psycopg.connect(pg.url(db), autocommit=True) as c:
                for name in names:
                    if c.execute(USED_HERE, (name,)).fetchone() == (True,):
                        c.execute("DROP SCHEMA IF EXISTS skene CASCADE")
                        c.execute(f'DROP OWNED BY "{name}"')
        for name in names:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture(params=["superuser", "app-owner", "app-migrates"])
def setup(request: pytest.FixtureRequest, app_url: str, tmp_path: Path,
          roles: tuple[str, str]) -> Iterator[Setup]:
    """superuser: the superuser owns the app's tables and runs everything. app-owner: a
    non-superuser LOGIN role owns the app's tables and writes to them; migrate and uninstall run
    as a superuser. app-migrates: that role (with CREATEROLE and REPLICATION, which a DBA gave
    it) runs migrate and uninstall itself, so skene's roles are granted to it. The app role and
    its rights are made before the first snapshot: they are the app's, not skene's."""
    write_url = app_url
    role = None
    if request.param != "superuser":
        role = f"trace_app_{os.getpid()}_{next(_names)}"
        rights = " CREATEROLE REPLICATION" if request.param == "app-migrates" else ""
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN{rights}')
            conn.execute(f'GRANT CREATE ON DATABASE "{dbname(app_url)}" TO "{role}"')
            for table in ("users", "user_actions", "alembic_version"):
                conn.execute(f'ALTER TABLE {table} OWNER TO "{role}"')
            for seq in conn.execute("SELECT c.oid::regclass::text FROM pg_class c "
                                    "WHERE c.relkind = 'S' AND c.relnamespace = "
                                    "'public'::regnamespace").fetchall():
                conn.execute(f'ALTER SEQUENCE {seq[0]} OWNER TO "{role}"')
        write_url = url_as(app_url, role)
    migrate_url = write_url if request.param == "app-migrates" else app_url
    yield Setup(migrate_url, write_url, tmp_path / "skene.yaml", *roles, admin=app_url)
    if role is not None:
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def _with_roles(text: str, s: Setup) -> str:
    return text + f"roles: {{capture: {s.capture}, reader: {s.reader}}}\n"


def _traffic(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('a@x.test', 'Ann'), "
                     "('b@x.test', NULL)")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT id, 'login' FROM users")
        conn.execute("UPDATE users SET name = 'Anne' WHERE email = 'a@x.test'")
        conn.execute("DELETE FROM user_actions WHERE action_type = 'login' AND user_id = "
                     "(SELECT id FROM users WHERE email = 'b@x.test')")
        conn.commit()


def _uninstall(s: Setup) -> str:
    out = run_cli("uninstall", "--yes", url=s.url, config_path=s.config).stdout
    assert f"dropped role {s.capture}" in out, out
    assert f"dropped role {s.reader}" in out, out
    assert "dropped schema skene" in out, out
    return out


def test_trigger_mode_uninstall_leaves_no_trace(setup: Setup) -> None:
    s = setup
    config = write_config(s.config.parent, _with_roles(DEFAULT_CONFIG, s))
    before = snapshot(s.admin)
    run_cli("migrate", url=s.url, config_path=s.config)
    assert scalar(s.admin, "SELECT pg_get_userbyid(proowner) FROM pg_proc "
                           "WHERE oid = 'skene.capture()'::regprocedure") == s.capture
    _traffic(s.app_url)
    consume(s.url, config)
    assert scalar(s.admin, "SELECT count(*) FROM skene.events") == 6
    # The app's own migrations keep working next to skene, then skene leaves.
    run_cli("migrate", url=s.url, config_path=s.config)
    _uninstall(s)
    assert_same(before, snapshot(s.admin))
    assert scalar(s.admin, "SELECT count(*) FROM users") == 2  # app rows untouched


def test_logical_mode_uninstall_leaves_no_trace(setup: Setup) -> None:
    s = setup
    slot = f"s_{dbname(s.url)}"
    config = write_config(s.config.parent, _with_roles(logical_config(slot), s))
    before = snapshot(s.admin)
    run_cli("migrate", url=s.url, config_path=s.config)
    assert scalar(s.admin, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s",
                  (slot,)) == 1
    _traffic(s.app_url)
    assert LogicalCapture(s.url, config).drain() > 0
    consume(s.url, config)
    assert scalar(s.admin, "SELECT count(*) FROM skene.events") == 6
    # A listener streaming from the slot while uninstall runs: it is ended, the slot dropped.
    stop = threading.Event()
    cap = LogicalCapture(s.url, config)
    thread = threading.Thread(target=cap.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: scalar(s.admin, "SELECT bool_or(active) FROM pg_replication_slots "
                                         "WHERE slot_name = %s", (slot,)) is True,
                 what="listener streaming")
        out = _uninstall(s)
    finally:
        stop.set()
        thread.join(30)
    assert f"dropped replication slot {slot}" in out and "dropped publication skene_pub" in out
    assert_same(before, snapshot(s.admin))


def test_a_role_another_database_uses_is_kept_then_dropped_by_the_last(
        pg: PgCluster, app_url: str, tmp_path: Path, roles: tuple[str, str]) -> None:
    """Role names are cluster-wide: uninstall in one database must not take the capture role
    from another database where skene still runs; the last uninstall drops it."""
    from tests.conftest import clone, drop

    capture, reader = roles
    s = Setup(app_url, app_url, tmp_path / "skene.yaml", capture, reader, app_url)
    write_config(tmp_path, _with_roles(DEFAULT_CONFIG, s))
    before = snapshot(app_url)
    other = clone(pg, "app_template")
    try:
        run_cli("migrate", url=app_url, config_path=s.config)
        run_cli("migrate", url=pg.url(other), config_path=s.config)
        out = run_cli("uninstall", "--yes", url=app_url, config_path=s.config).stdout
        assert f"kept role {capture}: still used by {other}" in out, out
        assert f"kept role {reader}: still used by {other}" in out, out
        # Still capturing there.
        with psycopg.connect(pg.url(other)) as conn:
            conn.execute("INSERT INTO users (email, name) VALUES ('c@x.test', 'C')")
            conn.commit()
        assert scalar(pg.url(other), "SELECT count(*) FROM skene.queue") == 1
        out = run_cli("uninstall", "--yes", url=pg.url(other), config_path=s.config).stdout
        assert f"dropped role {capture}" in out and f"dropped role {reader}" in out, out
    finally:
        drop(pg, other)
    after = snapshot(app_url)
    # The other database is gone (its own catalog rows with it); the rest must be as before.
    for part in ("shdepend",):
        after[part] = {r for r in after[part] if r[0] != other}
    assert_same(before, after)


def test_a_role_uninstall_may_not_drop_or_that_holds_more_is_kept_with_the_fix(
        app_url: str, tmp_path: Path, roles: tuple[str, str]) -> None:
    """uninstall always finishes: a role it may not drop, or one holding a grant skene did not
    give it, is kept with one line saying why and what to run, never a traceback."""
    capture, reader = roles
    app = f"trace_app_{os.getpid()}_{next(_names)}"
    with psycopg.connect(app_url, autocommit=True) as conn:
        # What migrate's refusal asks a DBA to run once, for an app role without CREATEROLE.
        conn.execute(f'CREATE ROLE "{app}" LOGIN')
        conn.execute(f'GRANT CREATE ON DATABASE "{dbname(app_url)}" TO "{app}"')
        for table in ("users", "user_actions", "alembic_version"):
            conn.execute(f'ALTER TABLE {table} OWNER TO "{app}"')
        for name in roles:
            conn.execute(f'CREATE ROLE "{name}" NOLOGIN')
            conn.execute(f'GRANT "{name}" TO "{app}"')
    s = Setup(url_as(app_url, app), url_as(app_url, app), tmp_path / "skene.yaml", capture,
              reader, app_url)
    write_config(tmp_path, _with_roles(DEFAULT_CONFIG, s))
    try:
        run_cli("migrate", url=s.url, config_path=s.config)
        out = run_cli("uninstall", "--yes", url=s.url, config_path=s.config).stdout
        for name in roles:
            assert (f'kept role {name}: this role may not drop roles; as a superuser run '
                    f'`DROP ROLE "{name}";`') in out, out
        assert "dropped schema skene" in out and "Traceback" not in out
        # Migrated again, and the capture role given something by hand: kept, and said so.
        run_cli("migrate", url=s.url, config_path=s.config)
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'GRANT SELECT ON users TO "{capture}"')
        out = run_cli("uninstall", "--yes", url=app_url, config_path=s.config).stdout
        assert (f"kept role {capture}: it still holds what skene did not give it (privileges "
                "for table users)") in out, out
        assert f"dropped role {reader}" in out and "dropped schema skene" in out, out
    finally:
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{app}" TO postgres')
            conn.execute(f'DROP OWNED BY "{app}"')
            conn.execute(f'DROP ROLE "{app}"')
