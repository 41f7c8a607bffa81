"""`skene-cdc migrate` / `uninstall` against a real server, driven as a user drives them."""

from __future__ import annotations

from pathlib import Path

import psycopg

from skene_cdc import sql
from skene_cdc.migrations.runner import head_revision
from tests.conftest import DEFAULT_CONFIG, clone, consume, drop, run_cli, write_config
from tests.pgcluster import PgCluster

APP_STATE = """
SELECT (SELECT json_agg(v ORDER BY version_num) FROM alembic_version v) AS alembic,
       (SELECT json_agg(u ORDER BY id) FROM users u) AS users,
       (SELECT json_agg(a ORDER BY id) FROM user_actions a) AS actions,
       (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal) AS triggers
"""

SKENE_OBJECTS = """
SELECT (SELECT json_agg(c.relname || ':' || c.relkind::text ORDER BY c.relname) FROM pg_class c
         WHERE c.relnamespace = to_regnamespace('skene')) AS relations,
       (SELECT json_agg(t.tgname || ':' || coalesce(obj_description(t.oid, 'pg_trigger'), '')
                        ORDER BY t.tgname, t.tgrelid)
          FROM pg_trigger t WHERE NOT t.tgisinternal) AS triggers,
       (SELECT json_agg(p.proname || ':' || md5(p.prosrc) ORDER BY p.proname) FROM pg_proc p
         WHERE p.pronamespace = to_regnamespace('skene')) AS functions,
       (SELECT obj_description(to_regclass('skene.users'), 'pg_class')) AS users_view
"""


def state(url: str, query: str) -> tuple[object, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return tuple(row)


def seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('a@x.test', 'Ann'), "
                     "('b@x.test', 'Bob')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'login')")


def test_migrate_installs_and_leaves_app_alembic_alone(app_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    cfg = tmp_path / "skene.yaml"
    seed(app_url)
    before = state(app_url, APP_STATE)
    out = run_cli("migrate", url=app_url, config_path=cfg)
    assert f"not installed -> {head_revision()}" in out.stdout
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT version_num FROM skene.alembic_version").fetchall() != []
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("app_0042",)]
        trig = conn.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'skene%' ORDER BY 1, 2").fetchall()
        per_table = ["skene_capture_delete", "skene_capture_insert", "skene_capture_truncate",
                     "skene_capture_update"]
        assert trig == [("user_actions", t) for t in per_table] + [("users", t) for t in per_table]
    after = state(app_url, APP_STATE)
    assert after[:3] == before[:3]

    # Second run: nothing to do, nothing changed.
    objects = state(app_url, SKENE_OBJECTS)
    again = run_cli("migrate", url=app_url, config_path=cfg)
    assert "nothing to upgrade" in again.stdout and "nothing changed" in again.stdout
    assert state(app_url, SKENE_OBJECTS) == objects


def test_migrate_sql_prints_and_runs_nothing(app_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    out = run_cli("migrate", "--sql", url=app_url, config_path=tmp_path / "skene.yaml")
    assert "CREATE TABLE skene.events" in out.stdout
    assert "CREATE TRIGGER skene_capture" in out.stdout
    assert "CREATE VIEW skene.users" in out.stdout
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT to_regnamespace('skene')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'skene%'"
                            ).fetchone() == (0,)


def test_uninstall_removes_everything_keeps_app_rows(app_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    cfg = tmp_path / "skene.yaml"
    seed(app_url)
    before = state(app_url, APP_STATE)
    run_cli("migrate", url=app_url, config_path=cfg)
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (2, 'upload')")
    before_uninstall = state(app_url, APP_STATE)
    refused = run_cli("uninstall", url=app_url, config_path=cfg, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    out = run_cli("uninstall", "--yes", url=app_url, config_path=cfg)
    assert "dropped schema skene" in out.stdout
    after = state(app_url, APP_STATE)
    assert after[:3] == before_uninstall[:3]
    assert after[3] == before[3] == 0
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT to_regnamespace('skene')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'capture' "
                            "AND prosrc LIKE '%skene.events%'").fetchone() == (0,)
        # The app keeps working without skene.
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'after')")


def test_capture_follows_config_changes_and_repairs_drift(app_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    cfg = tmp_path / "skene.yaml"
    run_cli("migrate", url=app_url, config_path=cfg)

    # Someone edits the trigger by hand: the hash no longer matches, migrate replaces it.
    with psycopg.connect(app_url) as conn:
        conn.execute("DROP TRIGGER skene_capture_insert ON user_actions")
        conn.execute("CREATE TRIGGER skene_capture_insert AFTER INSERT ON user_actions "
                     "FOR EACH ROW EXECUTE FUNCTION skene.capture('user_id', '', '', 'true')")
    out = run_cli("migrate", url=app_url, config_path=cfg)
    assert "public.user_actions: capture definition changed (drift), replaced" in out.stdout

    # A changed mapping (event column dropped from config) changes the registration the
    # listener reads rows by; the trigger, which only says which columns leave, stays.
    changed = DEFAULT_CONFIG.replace("      event: action_type\n", "")
    config = write_config(tmp_path, changed)
    out = run_cli("migrate", url=app_url, config_path=cfg)
    assert "public.user_actions: registered as activity, trigger capture" in out.stdout
    assert "capture definition changed" not in out.stdout
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('c@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'login')")
    consume(app_url, config)
    with psycopg.connect(app_url) as conn:
        ev = conn.execute("SELECT event FROM skene.events WHERE table_name = "
                          "'public.user_actions'").fetchone()
        assert ev == ("user_actions.insert",)

    # A changed column list is a changed trigger.
    excluding = changed.replace("    - table: public.user_actions\n",
                                "    - table: public.user_actions\n      exclude: [action_type]\n")
    write_config(tmp_path, excluding)
    out = run_cli("migrate", url=app_url, config_path=cfg)
    assert "public.user_actions: capture definition changed" in out.stdout

    # A table removed from the config loses its capture.
    removed = changed.split("  activity:")[0] + "capture: {poll_interval: 1s}\n"
    write_config(tmp_path, removed)
    out = run_cli("migrate", url=app_url, config_path=cfg)
    assert "public.user_actions: no longer in skene.yaml, capture removed" in out.stdout
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON "
                            "c.oid = t.tgrelid WHERE c.relname = 'user_actions' "
                            "AND t.tgname LIKE 'skene%'").fetchone() == (0,)
        assert conn.execute("SELECT table_name FROM skene.captured_tables").fetchall() == [
            ("public.users",)]


def test_migrations_match_declared_schema(pg: PgCluster, app_url: str, tmp_path: Path) -> None:
    """procrastinate-style: the schema the migrations build equals skene_cdc/sql/schema.sql."""
    write_config(tmp_path, DEFAULT_CONFIG)
    run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml")
    other = clone(pg, "app_template")
    try:
        with psycopg.connect(pg.url(other), autocommit=True) as conn:
            conn.execute(sql.load("schema"))
        built, declared = describe(app_url), describe(pg.url(other))
        assert built, "describe() found nothing: the comparison would prove nothing"
        assert built == declared
    finally:
        drop(pg, other)


def describe(url: str) -> list[tuple[object, ...]]:
    """Tables, columns, indexes, constraints and functions of schema skene (not generated
    per-config objects: skene.users and its functions, the day partitions of skene.events, and
    skene.condition_rows, which belongs to the configured reader role)."""
    with psycopg.connect(url) as conn:
        return conn.execute("""
            SELECT 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE c.relnamespace = 'skene'::regnamespace AND c.relkind IN ('r', 'p')
              AND c.relname <> 'alembic_version' AND NOT a.attisdropped AND NOT c.relispartition
            UNION ALL
            SELECT 'index', c.relname, i.relname, pg_get_indexdef(i.oid), '', ''
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            WHERE c.relnamespace = 'skene'::regnamespace AND c.relname <> 'alembic_version'
              AND NOT c.relispartition
            UNION ALL
            SELECT 'constraint', c.relname, k.conname, pg_get_constraintdef(k.oid), '', ''
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE c.relnamespace = 'skene'::regnamespace AND c.relname <> 'alembic_version'
              AND NOT c.relispartition
            UNION ALL
            SELECT 'function', p.proname, pg_get_function_identity_arguments(p.oid),
                   md5(pg_get_functiondef(p.oid)), '', ''
            FROM pg_proc p WHERE p.pronamespace = 'skene'::regnamespace
              AND p.proname NOT IN ('users_by_id', 'users_rows', 'condition_rows')
            UNION ALL
            SELECT 'view', c.relname, '', md5(pg_get_viewdef(c.oid)), '', ''
            FROM pg_class c WHERE c.relnamespace = 'skene'::regnamespace AND c.relkind = 'v'
              AND c.relname <> 'users'
            ORDER BY 1, 2, 3, 4""").fetchall()
