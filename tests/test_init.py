"""`skene-cdc init` on three real app schemas (FastAPI, Django, Flask-SQLAlchemy): golden YAML,
and each generated config passes `check` and runs `migrate --backfill` and `listen --once`.

Regenerate the golden files after an intended change:
    SKENE_UPDATE_GOLDEN=1 python -m pytest tests/test_init.py -k golden
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import yaml

from skene_cdc.cli.check import gather
from skene_cdc.cli.context import Ctx
from skene_cdc.config import parse_config
from skene_cdc.errors import SkeneError
from skene_cdc.inspect import generate
from tests.conftest import run_cli
from tests.pgcluster import PgCluster
from tests.setup_helpers import catalog_snapshot, empty_db, invoke

GOLDEN = Path(__file__).parent / "golden"
SCHEMAS = ["fastapi", "django", "flask"]

# Per schema: rows the app had before skene (backfilled), then rows after `migrate` (captured).
BEFORE = {
    "fastapi": """
        INSERT INTO users (id, email, full_name, hashed_password, created_at) VALUES
          ('00000000-0000-0000-0000-000000000001', 'old@x.test', 'Olga', 'h', now() - interval '60 days');
        INSERT INTO user_actions (user_id, action_type, created_at) VALUES
          ('00000000-0000-0000-0000-000000000001', 'login', now() - interval '50 days'),
          ('00000000-0000-0000-0000-000000000001', 'export', now() - interval '40 days');
        INSERT INTO refresh_tokens (user_id, token, expires_at) VALUES
          ('00000000-0000-0000-0000-000000000001', 't', now() + interval '1 day');""",
    "django": """
        INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
          VALUES (1, 'x', false, 'olga', 'Olga', 'Old', 'old@x.test', false, true,
                  now() - interval '60 days');
        INSERT INTO projects_project (id, name, owner_id, created_at)
          VALUES (1, 'Apollo', 1, now() - interval '50 days');
        INSERT INTO tracking_event (user_id, name, created_at)
          VALUES (1, 'report_viewed', now() - interval '40 days');
        INSERT INTO django_session VALUES ('k', 'data', now() + interval '1 day');""",
    "flask": """
        INSERT INTO "user" (id, username, email, created_on)
          VALUES (1, 'olga', 'old@x.test', now() - interval '60 days');
        INSERT INTO post (body, author_id, timestamp) VALUES ('first', 1, now() - interval '50 days'),
          ('second', 1, now() - interval '40 days');
        INSERT INTO followers VALUES (1, 1);""",
}
AFTER = {
    "fastapi": """
        INSERT INTO users (id, email, full_name, hashed_password) VALUES
          ('00000000-0000-0000-0000-000000000002', 'new@x.test', 'Nina', 'h');
        INSERT INTO user_actions (user_id, action_type) VALUES
          ('00000000-0000-0000-0000-000000000002', 'first_project_created');""",
    "django": """
        INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
          VALUES (2, 'x', false, 'nina', 'Nina', 'New', 'new@x.test', false, true, now());
        INSERT INTO projects_task (project_id, user_id, title, created_at, updated_at)
          VALUES (1, 2, 'Ship it', now(), now());""",
    "flask": """
        INSERT INTO "user" (id, username, email) VALUES (2, 'nina', 'new@x.test');
        INSERT INTO comment (body, user_id, post_id) VALUES ('nice', 2, 1);""",
}
USER_IDS = {"fastapi": ("00000000-0000-0000-0000-000000000001",
                        "00000000-0000-0000-0000-000000000002"),
            "django": ("1", "2"), "flask": ("1", "2")}


def generated(url: str, **kwargs: bool) -> str:
    return generate.render_config(generate.inspect_database(url), **kwargs)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    if os.environ.get("SKENE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with SKENE_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), (f"init output for {name} differs from {path}; if the change "
                                      "is intended, rerun with SKENE_UPDATE_GOLDEN=1")


@pytest.mark.parametrize("schema", SCHEMAS)
def test_golden(pg: PgCluster, schema: str) -> None:
    with empty_db(pg, schema) as url:
        text = generated(url)
    assert_golden(schema, text)
    config = parse_config(text, "skene.yaml", env={})
    assert [loop.name for loop in config.loops] == ["activation", "retention"]


def test_golden_with_stripe_and_redis(pg: PgCluster) -> None:
    """With Stripe and Redis configured, the freemium loop and both sections are live."""
    with empty_db(pg, "fastapi") as url:
        text = generated(url, stripe=True, redis=True)
    assert_golden("fastapi_stripe_redis", text)
    config = parse_config(text, "skene.yaml", env={"STRIPE_WEBHOOK_SECRET": "whsec_x",
                                                   "REDIS_URL": "redis://localhost:6379/0"})
    assert [loop.name for loop in config.loops] == ["activation", "retention", "freemium"]
    assert config.stripe is not None and config.redis is not None
    assert config.app.users.stripe_customer_id == "stripe_customer_id"


def test_what_each_schema_yields(pg: PgCluster) -> None:
    """The choices behind the golden files, stated plainly."""
    found = {}
    for schema in SCHEMAS:
        with empty_db(pg, schema) as url:
            det = generate.inspect_database(url).detection
        found[schema] = det
    dj = found["django"]
    assert (dj.users.table.qualified, dj.users.email, dj.users.name, dj.users.created_at) == (
        "public.auth_user", "email", "first_name", "date_joined")
    assert [(a.table.name, a.user_id, a.timestamp, a.event) for a in dj.activity] == [
        ("projects_project", "owner_id", "created_at", None),
        ("projects_task", "user_id", "created_at", None),
        ("tracking_event", "user_id", "created_at", "name")]
    skipped = {s.table for s in dj.skipped}
    assert {"public.django_admin_log", "public.auth_user_groups", "public.projects_membership",
            "public.accounts_profile"} <= skipped
    fl = found["flask"]
    assert (fl.users.table.name, fl.users.name, fl.users.created_at) == ("user", "username",
                                                                         "created_on")
    assert [(a.table.name, a.user_id, a.timestamp) for a in fl.activity] == [
        ("comment", "user_id", "created_on"), ("post", "author_id", "timestamp")]
    fa = found["fastapi"]
    assert fa.users.stripe_customer_id == "stripe_customer_id"
    assert [a.table.name for a in fa.activity] == ["api_usage", "items", "user_actions"]
    assert [s.table for s in fa.skipped] == ["public.refresh_tokens"]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_generated_config_checks_migrates_and_listens(pg: PgCluster, tmp_path: Path,
                                                      schema: str) -> None:
    with empty_db(pg, schema) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(BEFORE[schema])
        cfg = tmp_path / "skene.yaml"
        before = catalog_snapshot(url)
        out = invoke("init", url=url, config_path=cfg)
        assert catalog_snapshot(url) == before, "init wrote to the database"
        assert "wrote:" in out and cfg.exists()
        assert sorted(p.name for p in (tmp_path / "templates").iterdir()) == sorted(
            generate.STARTERS)
        # Growth email links its one-click unsubscribe (issue 14).
        assert all("{{ unsubscribe_url }}" in p.read_text()
                   for p in (tmp_path / "templates").iterdir())

        checked = invoke("check", url=url, config_path=cfg)
        assert "ok:" in checked and "0 errors" in checked, checked
        invoke("migrate", "--backfill", url=url, config_path=cfg)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(AFTER[schema])
        assert "events:" in invoke("listen", "--once", url=url, config_path=cfg)
        problems, _ = gather(Ctx(url, str(cfg)))  # in-process: the CLI path ran above
        assert problems == [], problems
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT user_id, email, last_activity_at IS NOT NULL, "
                "last_activity_at < now() - interval '7 days' FROM skene.users "
                "ORDER BY email DESC").fetchall()
            # 40-50 days old: the rollups have them, the 30-day history (events.retention)
            # does not keep them.
            backfilled = conn.execute("SELECT sum(n)::int FROM skene.user_events "
                                      "WHERE user_id = %s", (USER_IDS[schema][0],)).fetchone()
            kept = conn.execute("SELECT count(*) FROM skene.events "
                                "WHERE external_id LIKE 'backfill:%'").fetchone()
    old, new = USER_IDS[schema]
    # The existing user is known and dormant on day one (backfill); the new one is active.
    assert rows == [(old, "old@x.test", True, True), (new, "new@x.test", True, False)]
    assert backfilled == ({"fastapi": 2, "django": 2, "flask": 2}[schema],)
    assert kept == (0,)


def test_init_never_overwrites_without_force(app_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "skene.yaml"
    cfg.write_text("# mine\n")
    proc = run_cli("init", url=app_url, config_path=cfg, check=False)
    assert proc.returncode != 0
    assert "not overwriting" in proc.stderr and "--force" in proc.stderr
    assert cfg.read_text() == "# mine\n"
    assert not (tmp_path / "templates").exists(), "nothing is written when anything exists"
    run_cli("init", "--force", url=app_url, config_path=cfg)
    assert "table: public.users" in cfg.read_text()


def test_init_stdout_writes_nothing(app_url: str, tmp_path: Path) -> None:
    out = run_cli("init", "--stdout", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    assert out.startswith("# skene.yaml")
    assert not list(tmp_path.iterdir())


def test_no_users_table_is_a_clear_error(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE widgets (id int PRIMARY KEY, label text)")
        proc = run_cli("init", url=url, config_path=tmp_path / "skene.yaml", check=False)
        assert proc.returncode == 2
        assert "no users table found" in proc.stderr and "--users-table" in proc.stderr
        with pytest.raises(SkeneError, match="not found"):
            generate.inspect_database(url, users_table="nope")


def test_users_table_override(pg: PgCluster) -> None:
    with empty_db(pg, "django") as url:
        det = generate.inspect_database(url, users_table="public.auth_user").detection
    assert det.users.reason == "chosen with --users-table public.auth_user"


def test_quoting_helpers() -> None:
    assert generate.sql_ident("user") == '"user"'
    assert generate.sql_ident("user_id") == "user_id"
    assert generate.sql_ident("Order") == '"Order"'
    assert generate.table_name("public", "user") == "public.user"
    assert generate.table_name("public", "Order") == 'public."Order"'
    assert generate.yaml_scalar("public.users") == "public.users"
    for tricky in ['public."Order"', "yes", "123", "a: b", "#x", "null", "x # y", "$1::uuid"]:
        assert yaml.safe_load(f"k: {generate.yaml_scalar(tricky)}") == {"k": tricky}


def test_every_starter_template_has_a_text_part() -> None:
    """upgrade_prompt had no .txt: clients that show no HTML got nothing readable."""
    starters = generate.starter_templates()
    htmls = {n[:-5] for n in starters if n.endswith(".html")}
    assert {"activation_welcome", "re_engagement", "upgrade_prompt"} <= htmls
    assert {n[:-4] for n in starters if n.endswith(".txt")} == htmls
