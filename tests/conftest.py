"""Fixtures: one real PostgreSQL cluster and one redis-server per session; a database per test,
cloned from a template (the app schema, and a second template with skene already migrated)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.config import Config, parse_config
from tests import fuzz_settings  # noqa: F401  (loads the Hypothesis profile for every test)
from tests.pgcluster import INSTALL_HINT, PgCluster, RedisServer, find_pg_bindir

HERE = Path(__file__).parent
ROOT = HERE.parent

DEFAULT_CONFIG = """\
version: 1
app:
  users: {table: public.users, id: id, email: email, name: name, created_at: created_at}
  activity:
    - table: public.user_actions
      user_id: user_id
      timestamp: created_at
      event: action_type
capture:
  poll_interval: 1s
email:
  provider: console
  from: "Acme <hello@acme.test>"
  templates: templates
"""

_counter = itertools.count()


# The fast tier (`make test-fast`, `pytest -m fast`): every test that needs no server and starts
# no process, found by what it uses rather than by a list to keep up to date. A test whose
# fixtures (however indirect) include one of these is a cluster test; one whose own code names
# one of SPAWNS is a process test. Everything else is pure logic, in-process: seconds in all.
CLUSTER_FIXTURES = frozenset({"pg", "redis_server", "own_redis"})
SPAWNS = frozenset({"run_cli", "subprocess", "Popen", "start_listener", "run_demo", "PgCluster",
                    "RedisServer"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        names = getattr(item, "fixturenames", ())
        if function is not None and item.get_closest_marker("slow") is None and \
                CLUSTER_FIXTURES.isdisjoint(names) and SPAWNS.isdisjoint(function.__code__.co_names):
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    if find_pg_bindir() is None:
        pytest.skip(INSTALL_HINT)
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")


def admin(pg: PgCluster) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(pg.url(), autocommit=True)


@pytest.fixture(scope="session")
def app_template(pg: PgCluster) -> str:
    with admin(pg) as conn:
        conn.execute("CREATE DATABASE app_template")
    with psycopg.connect(pg.url("app_template"), autocommit=True) as conn:
        conn.execute((HERE / "app_schema.sql").read_text())
    return "app_template"


@pytest.fixture(scope="session")
def skene_template(pg: PgCluster, app_template: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> str:
    from skene_cdc.migrations import runner

    with admin(pg) as conn:
        conn.execute("CREATE DATABASE skene_template TEMPLATE app_template")
    d = tmp_path_factory.mktemp("skene_template")
    runner.migrate(pg.url("skene_template"), write_config(d, DEFAULT_CONFIG))
    return "skene_template"


def clone(pg: PgCluster, template: str) -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    with admin(pg) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_slots(url: str, dbname: str) -> None:
    """Stop the walsenders of `dbname`'s logical slots and drop the slots. DROP DATABASE refuses
    while a slot is active, and a walsender outlives its client by a moment."""
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(100):
            conn.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE database = %s AND active_pid IS NOT NULL", (dbname,))
            left = conn.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s "
                                "AND active", (dbname,)).fetchone()
            if left == (0,):
                break
            time.sleep(0.05)
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE database = %s", (dbname,))


def drop(pg: PgCluster, name: str) -> None:
    drop_slots(pg.url(), name)
    with admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_url(pg: PgCluster, app_template: str) -> Iterator[str]:
    """A fresh database with the app schema, skene not installed."""
    name = clone(pg, app_template)
    yield pg.url(name)
    drop(pg, name)


@pytest.fixture
def db_url(pg: PgCluster, skene_template: str) -> Iterator[str]:
    """A fresh database with the app schema and skene migrated with DEFAULT_CONFIG."""
    name = clone(pg, skene_template)
    yield pg.url(name)
    drop(pg, name)


def write_config(directory: Path, text: str, *, stub_templates: bool = True) -> Config:
    """Write skene.yaml, plus a plain template for every template a loop names that the test did
    not write itself (the sender refuses to start without them)."""
    path = directory / "skene.yaml"
    path.write_text(text)
    templates = directory / "templates"
    templates.mkdir(exist_ok=True)
    config = parse_config(text, str(path))
    for name in _template_names(config) if stub_templates else ():
        html = templates / f"{name}.html"
        if not html.exists():
            html.write_text('---\nsubject: "Hello {{ user.email }}"\n---\n<p>{{ user.email }}</p>\n')
    return config


def _template_names(config: Config) -> set[str]:
    names: set[str] = set()
    for loop in config.loops:
        for step in loop.steps:
            action = step.action
            emails = [action] if action.type == "email" else (
                [action.upgrade_prompt] if action.upgrade_prompt else [])
            for email in emails:
                names.update(v.template for v in email.variants)
                if email.template:
                    names.add(email.template)
    return names


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_config(tmp_path, DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


def cli_env(url: str, config_path: Path | str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKENE_")}
    env.update(DATABASE_URL=url, SKENE_CONFIG=str(config_path), PYTHONPATH=str(ROOT), **extra)
    return env


def start_listener(url: str, cfg: Path) -> subprocess.Popen[str]:
    """`skene-cdc listen` in its own process. stderr goes to listener.log beside the config (read
    it with listener_log): a pipe nobody drains could fill up and stall the listener."""
    log = open(cfg.parent / "listener.log", "a")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], text=True,
                            env=cli_env(url, cfg), stdout=subprocess.DEVNULL, stderr=log)


def listener_log(cfg: Path) -> str:
    return (cfg.parent / "listener.log").read_text()


def run_cli(*args: str, url: str, config_path: Path | str, check: bool = True,
            timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `skene-cdc ARGS` as a user would: a separate process, env vars, exit status."""
    proc = subprocess.run([sys.executable, "-m", "skene_cdc", *args], capture_output=True,
                          text=True, env=cli_env(url, config_path, **extra), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"skene-cdc {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition",
             interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def consume(url: str, config: Config | None = None) -> int:
    """Run the event consumer once, in-process (what `listen --once` does for captured changes):
    captured rows reach skene.events and the rollups only through it."""
    from skene_cdc.handlers import build_handlers
    from skene_cdc.listener.consumer import EventConsumer
    from skene_cdc.listener.history import retention

    config = config or parse_config(DEFAULT_CONFIG)
    return EventConsumer(url, build_handlers(config), retention=retention(config)).drain()


def scalar(url: str, query: str, params: tuple[object, ...] = ()) -> object:
    """The first column of the first row of one query, on its own connection."""
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params or None).fetchone()
        return row[0] if row else None


@pytest.fixture(scope="session", autouse=True)
def hermetic_resend() -> Iterator[None]:
    """No test may reach the real Resend API: every process the suite starts sends to a local
    fake unless a test points RESEND_API_URL at its own (the email tests do)."""
    from tests.fakes.resend_server import FakeResend

    saved = {k: os.environ.get(k) for k in ("RESEND_API_KEY", "RESEND_API_URL")}
    with FakeResend(api_key="re_suite_key") as fake:
        os.environ["RESEND_API_KEY"] = "re_suite_key"
        os.environ["RESEND_API_URL"] = fake.url
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
