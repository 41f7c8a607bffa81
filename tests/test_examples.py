"""The example apps in examples/ run against a real database: a user signs up and acts before
skene is installed, `skene-cdc migrate --backfill` installs capture and imports that history,
another user signs up and acts, `skene-cdc listen --once`, and skene.users knows both."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.pgcluster import PgCluster
from tests.setup_helpers import empty_db, invoke

EXAMPLES = ROOT / "examples"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # SQLAlchemy resolves string annotations through it
    spec.loader.exec_module(module)
    return module


def install_skene(url: str, example: str) -> None:
    cfg = EXAMPLES / example / "skene.yaml"
    checked = invoke("check", url=url, config_path=cfg)
    assert "0 errors" in checked, checked
    out = run_cli("migrate", "--backfill", url=url, config_path=cfg).stdout
    assert "events imported" in out, out


def listen_once(url: str, example: str) -> None:
    run_cli("listen", "--once", url=url, config_path=EXAMPLES / example / "skene.yaml")


def skene_users(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT user_id, email, name, last_event, last_activity_at IS NOT NULL "
                            "FROM skene.users ORDER BY user_id").fetchall()


def events(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT table_name, op, user_id, event, external_id IS NOT NULL "
                            "FROM skene.events ORDER BY id").fetchall()


def test_fastapi_postgres(pg: PgCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    with empty_db(pg) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        app = load(EXAMPLES / "fastapi_postgres" / "app.py", "example_fastapi_app").app
        with TestClient(app) as client:
            ann = client.post("/signup", json={"email": "ann@x.test", "name": "Ann"}).json()
            assert client.post(f"/users/{ann['id']}/actions",
                               json={"action_type": "login"}).status_code == 201
            install_skene(url, "fastapi_postgres")
            bob = client.post("/signup", json={"email": "bob@x.test", "name": "Bob"}).json()
            assert client.post(f"/users/{bob['id']}/actions",
                               json={"action_type": "first_project_created"}).status_code == 201
            listen_once(url, "fastapi_postgres")
            seen = client.get(f"/users/{bob['id']}/engagement").json()
        assert seen["activity_this_week"] == 1 and seen["plan"] == "free"
        assert skene_users(url) == [("1", "ann@x.test", "Ann", "login", True),
                                    ("2", "bob@x.test", "Bob", "first_project_created", True)]
        assert events(url) == [
            ("public.user_actions", "insert", "1", "login", True),  # backfilled
            ("public.users", "insert", "2", "users.insert", False),
            ("public.user_actions", "insert", "2", "first_project_created", False)]


def test_flask_postgres(pg: PgCluster) -> None:
    with empty_db(pg) as url:
        module = load(EXAMPLES / "flask_postgres" / "app.py", "example_flask_app")
        app = module.create_app(url)
        client = app.test_client()
        try:
            ann = client.post("/signup", json={"username": "ann", "email": "ann@x.test"}).json
            post = client.post(f"/users/{ann['id']}/posts", json={"body": "hello"}).json
            install_skene(url, "flask_postgres")
            bob = client.post("/signup", json={"username": "bob", "email": "bob@x.test"}).json
            assert client.post(f"/posts/{post['id']}/comments",
                               json={"body": "hi!", "user_id": bob["id"]}).status_code == 201
            listen_once(url, "flask_postgres")
        finally:
            app.extensions["engine"].dispose()
        assert skene_users(url) == [("1", "ann@x.test", "ann", "post.insert", True),
                                    ("2", "bob@x.test", "bob", "comment.insert", True)]
        assert [e[:3] for e in events(url)] == [
            ("public.post", "insert", "1"), ("public.user", "insert", "2"),
            ("public.comment", "insert", "2")]


DJANGO_DRIVER = """
import json, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
from django.core.management import call_command
from django.test import Client
if {migrate}:
    call_command("migrate", verbosity=0)
c = Client()
r = c.post("/signup", json.dumps({{"username": {name!r}, "email": {name!r} + "@x.test",
           "password": "pw-12345678", "first_name": {name!r}.title()}}),
           content_type="application/json")
assert r.status_code == 201, r.content
r = c.post("/notes", json.dumps({{"title": "first"}}), content_type="application/json")
assert r.status_code == 201, r.content
"""


def django_signup_and_note(url: str, name: str, migrate: bool) -> None:
    code = textwrap.dedent(DJANGO_DRIVER).format(root=str(EXAMPLES / "django_postgres"),
                                                 migrate=migrate, name=name)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env=cli_env(url, EXAMPLES / "django_postgres" / "skene.yaml"))


def test_django_postgres(pg: PgCluster) -> None:
    with empty_db(pg) as url:
        django_signup_and_note(url, "ann", migrate=True)
        install_skene(url, "django_postgres")
        django_signup_and_note(url, "bob", migrate=False)
        listen_once(url, "django_postgres")
        assert skene_users(url) == [("1", "ann@x.test", "Ann", "notes_note.insert", True),
                                    ("2", "bob@x.test", "Bob", "notes_note.insert", True)]
        tables = {e[0] for e in events(url)}
        # Sessions, permissions and the admin log are never captured.
        assert tables == {"public.auth_user", "public.notes_note"}
