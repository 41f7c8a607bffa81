"""Two real apps whose schemas their frameworks make, for the issue 10 tests (app schema changes
with skene installed, secrets):

- `tests/apps/fullstack`: the FastAPI full-stack template's backend (SQLModel `user`/`item`,
  argon2 hashes through pwdlib), its schema made by its own `alembic upgrade head`;
- `examples/django_postgres`: `auth_user` and notes, made by `manage.py migrate`, users signing
  up through its own view (no `first_name`, as most signup forms) and logging in through
  Django's auth (which writes `last_login`).

skene is installed as a new user would: `skene-cdc init`, `check`, `migrate`, then the
listener's services drained in-process (`listen --once`, with the users watch)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg

from skene_cdc.config import Config, load_config
from tests.conftest import ROOT, cli_env
from tests.setup_helpers import invoke

FULLSTACK = Path(__file__).parent / "apps" / "fullstack"
DJANGO = ROOT / "examples" / "django_postgres"


def run(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one of the app's own commands; fail the test with its output if it fails."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=cli_env(url, cwd / "skene.yaml"))
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n" \
                                 f"{proc.stdout}\n{proc.stderr}"
    return proc


# -- the FastAPI full-stack template -----------------------------------------------------------


def alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The app's own `alembic ...` in its directory."""
    return run([sys.executable, "-m", "alembic", *args], url, FULLSTACK)


def fullstack_modules() -> tuple[ModuleType, ModuleType]:
    """The app's `crud` and `models`, imported as its own code imports them."""
    if str(FULLSTACK) not in sys.path:
        sys.path.insert(0, str(FULLSTACK))
    from fullstack import crud, models  # type: ignore[import-not-found]

    return crud, models


@contextmanager
def fullstack_session(url: str) -> Iterator[Any]:
    from sqlmodel import Session

    crud, _ = fullstack_modules()
    engine = crud.engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def fullstack_signup(url: str, email: str, password: str = "changethis-123",
                     full_name: str | None = None) -> uuid.UUID:
    """What the template's /users/signup route does: UserCreate, crud.create_user."""
    crud, models = fullstack_modules()
    with fullstack_session(url) as session:
        user = crud.create_user(session, models.UserCreate(email=email, password=password,
                                                           full_name=full_name))
        return uuid.UUID(str(user.id))


def fullstack_item(url: str, owner: uuid.UUID, title: str) -> None:
    crud, models = fullstack_modules()
    with fullstack_session(url) as session:
        crud.create_item(session, models.ItemCreate(title=title), owner)


def fullstack_change_password(url: str, email: str, password: str) -> None:
    """The template's /users/me/password: a new hash, nothing else changes."""
    crud, _ = fullstack_modules()
    with fullstack_session(url) as session:
        user = crud.authenticate(session, email, "changethis-123")
        assert user is not None
        crud.update_password(session, user, password)


# -- Django ----------------------------------------------------------------------------------

_DJANGO_DRIVER = """
import json, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
for step in json.loads({steps!r}):
    kind = step["do"]
    if kind == "migrate":
        call_command("migrate", *step.get("args", []), verbosity=0)
    elif kind == "signup":  # the app's own view; first_name only when the form had one
        body = {{"username": step["username"], "email": step["username"] + "@x.test",
                 "password": step.get("password", "pw-12345678")}}
        if step.get("first_name") is not None:
            body["first_name"] = step["first_name"]
        c = Client()
        r = c.post("/signup", json.dumps(body), content_type="application/json")
        assert r.status_code == 201, r.content
        for title in step.get("notes", []):
            r = c.post("/notes", json.dumps({{"title": title}}), content_type="application/json")
            assert r.status_code == 201, r.content
    elif kind == "login":  # django.contrib.auth: authenticate, login, update_last_login
        c = Client()
        assert c.login(username=step["username"], password=step.get("password", "pw-12345678"))
        for title in step.get("notes", []):
            r = c.post("/notes", json.dumps({{"title": title}}), content_type="application/json")
            assert r.status_code == 201, r.content
    elif kind == "set_password":  # what a password change form does: set_password, save()
        user = get_user_model().objects.get(username=step["username"])
        user.set_password(step["password"])
        user.save()
    elif kind == "hashes":
        print(json.dumps([u.password for u in get_user_model().objects.all()]))
"""


def django(url: str, *steps: dict[str, Any]) -> str:
    """Run the Django app against `url`, one step after another; returns what it printed."""
    code = textwrap.dedent(_DJANGO_DRIVER).format(root=str(DJANGO), steps=json.dumps(steps))
    return run([sys.executable, "-c", code], url, DJANGO).stdout


def manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The app's own `python manage.py ...`."""
    return run([sys.executable, "manage.py", *args], url, DJANGO)


# -- skene, installed as a new user would ------------------------------------------------------


def install(url: str, directory: Path) -> tuple[Config, str]:
    """`init`, `check`, `migrate` in `directory`; returns the config and what init printed."""
    cfg = directory / "skene.yaml"
    printed = invoke("init", url=url, config_path=cfg)
    checked = invoke("check", url=url, config_path=cfg)
    assert "0 errors" in checked, checked
    invoke("migrate", url=url, config_path=cfg)
    return load_config(str(cfg)), printed


def listen_once(url: str, config: Config) -> dict[str, int]:
    """`skene-cdc listen --once` in-process: every service, the users watch included."""
    from skene_cdc.runtime.services import build_services, drain_once

    return drain_once(build_services(url, config))


class Listener:
    """One listener's services kept across drains, as a running `listen` keeps them, with its
    users watch looking before every batch instead of every 30 s."""

    def __init__(self, url: str, config: Config) -> None:
        from skene_cdc.listener.consumer import EventConsumer
        from skene_cdc.runtime.services import build_services

        self.services = build_services(url, config)
        for s in self.services:
            if isinstance(s, EventConsumer) and s.watch is not None:
                s.watch.every = 0

    def drain(self) -> dict[str, int]:
        from skene_cdc.runtime.services import drain_once

        return drain_once(self.services)


def rows(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or None).fetchall()


def users_columns(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM skene.users LIMIT 0")
        return [d.name for d in cur.description or ()]
