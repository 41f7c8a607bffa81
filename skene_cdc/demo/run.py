"""`skene-cdc demo`: the whole pipeline end to end on a throwaway PostgreSQL.

Starts a cluster, creates the sample app, writes skene.yaml + templates, migrates, starts the
listener (in this process, as `skene-cdc listen` would run it), plays a month of simulated users,
fires the retention schedule, lets a few users come back, and prints the loops' funnels. Every
resource it creates is removed in `finally`, whether the run succeeds, fails or is interrupted."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import FrameType

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config, load_config
from skene_cdc.db import Row, connect
from skene_cdc.demo import simulate
from skene_cdc.demo.output import Output
from skene_cdc.demo.postgres import PgCluster, embedded_pg_bindir, local_pg_bindir
from skene_cdc.errors import PrerequisiteError
from skene_cdc.handlers.email import providers
from skene_cdc.handlers.loops.handler import register_loops
from skene_cdc.handlers.loops.plan import require_plans
from skene_cdc.handlers.loops.schedule import LoopScheduler
from skene_cdc.listener.control import name_this_process
from skene_cdc.migrations import runner as migrations
from skene_cdc.runtime import services as runtime
from skene_cdc.service import Service

DB = "demo_app"
CATCH_UP_TIMEOUT = 60.0


@dataclass
class Demo:
    out: Output
    keep: bool = False
    report: Path | None = None
    cluster: PgCluster | None = None
    workdir: Path | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> None:
        self.out.banner()
        with _terminate_as_interrupt():
            try:
                self._run()
            finally:
                self.cleanup()
        self.out.next_steps()

    def _run(self) -> None:
        url = self.start_postgres()
        config = self.write_app_files()
        now = datetime.now(UTC)
        personas = simulate.build_personas(now)
        installed_at = now - timedelta(days=simulate.INSTALLED_DAYS_AGO)
        self.create_app(url, personas, installed_at)
        self.migrate(url, config)
        self.start_listener(url, config)
        self.play_since(url, personas, installed_at)
        self.fire_retention(url, config)
        self.come_back(url, personas)
        self.fire_again(url, config)
        self.out.funnels(url)
        if self.report is not None:
            self.write_report(url)
        if self.keep:
            self.out.keep_open(url, self.workdir)
            self.stop.wait()

    def start_postgres(self) -> str:
        local = local_pg_bindir()
        bindir = local or embedded_pg_bindir()
        if bindir is None:
            raise PrerequisiteError(
                "the demo needs PostgreSQL server binaries, and none were found",
                hint="Install PostgreSQL (`apt-get install postgresql`, `brew install postgresql`) "
                     "or the bundled ones: `pip install 'skene-cdc[embedded]'` (`make demo` does "
                     "this for you)")
        with self.out.step("Starting a throwaway PostgreSQL") as step:
            self.cluster = PgCluster.start(bindir, prefix="skene-demo-pg-")
            with psycopg.connect(self.cluster.url(), autocommit=True) as conn:
                version = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
                conn.execute(f"CREATE DATABASE {DB}")
            kind = "installed binaries" if local else "embedded, from pgserver"
            step.done(f"PostgreSQL {version} on 127.0.0.1:{self.cluster.port} ({kind}), "
                      f"data in {self.cluster.root}")
        return self.cluster.url(DB)

    def write_app_files(self) -> Config:
        self.workdir = Path(tempfile.mkdtemp(prefix="skene-demo-"))
        files = resources.files("skene_cdc.demo").joinpath("files")
        _copy_tree(files, self.workdir)
        config = load_config(self.workdir / "skene.yaml")
        templates = sorted(p.stem for p in (self.workdir / "templates").glob("*.html"))
        self.out.line(f"Wrote skene.yaml ({len(config.loops)} loops: "
                      f"{', '.join(loop.name for loop in config.loops)}) and templates "
                      f"({', '.join(templates)}) to {self.workdir}")
        return config

    def create_app(self, url: str, personas: list[simulate.Persona],
                   installed_at: datetime) -> None:
        """The app as skene finds it: tables, and the weeks of users it had before skene."""
        with connect(url, autocommit=True) as conn:
            conn.execute(sql.load("demo/app_schema"))
            before = simulate.play_history(conn, personas, until=installed_at)
        self.out.line("Created the sample app: users(id, email, name, created_at), "
                      "user_actions(id, user_id, action_type, created_at)")
        self.out.line(f"Its first {before.days} days, before skene: {before.signups} signups, "
                      f"{before.actions} actions (the app's own history)")

    def migrate(self, url: str, config: Config) -> None:
        with self.out.step("skene-cdc migrate") as step:
            result = migrations.migrate(url, config)
            step.done(f"schema skene at {result.schema_after}; "
                      f"{len(result.capture_steps)} capture steps (triggers on users, user_actions)")

    def start_listener(self, url: str, config: Config) -> None:
        providers.console_sink = self.out.email
        name_this_process()  # `skene-cdc status` in another terminal sees it running
        self.services = runtime.build_services(url, config)
        for s in self.services:
            t = threading.Thread(target=s.run, args=(self.stop,), name=f"skene-{s.name}",
                                 daemon=True)
            t.start()
            self.threads.append(t)
        self.wait_for(url, "demo/listener_ready",
                      lambda row: row["listeners"] >= 1 and row["loops"] >= len(config.loops),
                      "the listener to start")
        self.out.line(f"Started the listener ({', '.join(s.name for s in self.services)}); "
                      f"emails go to the console provider")

    def play_since(self, url: str, personas: list[simulate.Persona],
                   installed_at: datetime) -> None:
        self.out.section(f"The {simulate.INSTALLED_DAYS_AGO} days since skene was installed, "
                         "replayed (timestamps backdated; event time comes from the row)")
        self.out.line("The app writes them a day per transaction; the listener captures each "
                      "commit and runs the loops, which send:")
        with connect(url, autocommit=True) as conn:
            played = simulate.play_history(conn, personas, since=installed_at)
        self.wait_caught_up(url)
        self.out.line(f"{played.signups} signups and {played.actions} actions over "
                      f"{played.days} days")
        self.out.capture_summary(url)

    def fire_retention(self, url: str, config: Config) -> None:
        self.out.section("09:00: retention's daily schedule fires (`skene-cdc loops run "
                         "retention` does the same now)")
        enqueued = self.fire(url, config, "retention")
        self.out.line(f"retention found {enqueued} users with no activity for 7 days; each gets "
                      "one of two subject lines (variants, sticky per user):")
        self.wait_caught_up(url)

    def fire_again(self, url: str, config: Config) -> None:
        self.out.section("The next day at 09:00 retention fires again")
        enqueued = self.fire(url, config, "retention")
        self.wait_caught_up(url)
        self.out.line(f"{enqueued} new emails: one per dormancy spell, and no user twice within "
                      "the loop's cooldown (30 days)")

    def fire(self, url: str, config: Config, loop: str) -> int:
        """Run a loop's scheduled steps now, as `skene-cdc loops run` does; emails enqueued."""
        plans = require_plans(config)
        scheduler = LoopScheduler(url, config, plans, listener_id="demo")
        enqueued = 0
        with connect(url) as conn:
            with conn.transaction():
                register_loops(conn, config)
            for plan in plans:
                if plan.loop.name != loop or plan.mode != "schedule":
                    continue
                result = scheduler.fire(conn, plan, datetime.now(UTC), manual=True)
                if result is not None and result.error:
                    raise PrerequisiteError(f"{plan.label}: {result.error}")
                enqueued += result.enqueued if result else 0
        return enqueued

    def come_back(self, url: str, personas: list[simulate.Persona]) -> None:
        back = simulate.returners(personas)
        self.out.section(f"Later that morning {len(back)} of them come back "
                         f"({', '.join(p.name for p in back)})")
        with connect(url, autocommit=True) as conn:
            now = datetime.now(UTC)
            for p in back:
                simulate.add_action(conn, p, "dashboard_viewed", now)
        self.wait_caught_up(url)
        with connect(url, autocommit=True) as conn:
            row = conn.execute(sql.load("demo/converted"), {"loop": "retention"}).fetchone()
        self.out.line(f"retention records {row['n'] if row else 0} conversions: active again "
                      "within the goal window after the email")

    def write_report(self, url: str) -> None:
        from skene_cdc.report import data, render

        assert self.report is not None
        with connect(url, autocommit=True) as conn:
            path = render.write(data.collect(conn), self.report)
        self.out.line(f"Wrote the report (`skene-cdc report`) to {path.resolve()}")

    # -- plumbing -------------------------------------------------------------------------------

    def wait_caught_up(self, url: str) -> None:
        """Until the listener has consumed every event and sent everything due."""
        self.wait_for(url, "demo/caught_up", lambda row: bool(row["caught_up"]),
                      "the listener to catch up")

    def wait_for(self, url: str, query: str, done: Callable[[Row], bool], what: str,
                 timeout: float = CATCH_UP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                self._check_threads()
                row = conn.execute(sql.load(query)).fetchone()
                if row and done(row):
                    return
                time.sleep(0.05)
        raise PrerequisiteError(f"timed out after {timeout:.0f}s waiting for {what}",
                                hint="Rerun with `skene-cdc -v demo` to see the listener's log")

    def _check_threads(self) -> None:
        dead = [t.name for t in self.threads if not t.is_alive()]
        if dead and not self.stop.is_set():
            raise PrerequisiteError(f"listener service {', '.join(dead)} stopped unexpectedly",
                                    hint="Rerun with -v to see why")

    def cleanup(self) -> None:
        if threading.current_thread() is threading.main_thread():
            # A second Ctrl-C must not abandon a running cluster half-way through its stop.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
        providers.console_sink = None
        removed = []
        if self.cluster is not None:
            self.cluster.stop("fast")
            removed.append(f"PostgreSQL stopped, {self.cluster.root} removed")
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            removed.append(f"{self.workdir} removed")
        if removed:
            self.out.cleaned(removed)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (terminal closed) clean up like Ctrl-C does; the defaults would skip our
    `finally`. SIGINT is set too: a shell starts background jobs with it ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, interrupt) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _copy_tree(src: resources.abc.Traversable, dest: Path) -> None:
    for item in src.iterdir():
        if item.name.startswith((".", "__")):
            continue
        if item.is_dir():
            (dest / item.name).mkdir(exist_ok=True)
            _copy_tree(item, dest / item.name)
        else:
            (dest / item.name).write_bytes(item.read_bytes())

