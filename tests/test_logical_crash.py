"""Logical capture under failure: the listener killed with SIGKILL mid-load, PostgreSQL restarted
under load, and a 1M-row transaction in flat memory. Every change must arrive exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.migrations import runner
from tests.conftest import ROOT, clone, drop, listener_log, scalar, start_listener
from tests.logical_util import dbname, wait_for, write_logical
from tests.pgcluster import PgCluster

INSERT_EVENTS = ("SELECT count(*) FROM skene.events WHERE table_name = 'public.user_actions' "
                 "AND op = 'insert'")


def wait_or_explain(proc: subprocess.Popen[str], cfg: Path, predicate: object, what: str,
                    timeout: float = 120) -> None:
    try:
        wait_for(predicate, timeout=timeout, what=what)  # type: ignore[arg-type]
    except AssertionError:
        proc.kill()
        raise AssertionError(f"timed out waiting for {what}; listener said:\n"
                             f"{listener_log(cfg)[-3000:]}") from None


def assert_exactly_once(url: str) -> None:
    with psycopg.connect(url) as conn:
        source = conn.execute("SELECT id FROM user_actions").fetchall()
        captured = conn.execute("SELECT (data->>'id')::bigint FROM skene.events WHERE "
                                "table_name = 'public.user_actions' AND op = 'insert'").fetchall()
    assert len(captured) == len(source), "every row once: no loss, no duplicate"
    assert {r[0] for r in captured} == {r[0] for r in source}


class Loader(threading.Thread):
    """Inserts `batches` x `size` user_actions rows with known ids, one transaction each. A batch
    that fails (server restarting) is retried idempotently on a new connection."""

    def __init__(self, url: str, batches: int, size: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.url, self.batches, self.size, self.pause = url, batches, size, pause
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn: psycopg.Connection[tuple[object, ...]] | None = None
            b = 0
            while b < self.batches:
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.url, autocommit=True)
                    first = b * self.size + 1
                    conn.execute("INSERT INTO user_actions (id, user_id, action_type) "
                                 "SELECT g, 1 + g %% 100, 'load' "
                                 "FROM generate_series(%s::bigint, %s::bigint) g "
                                 "ON CONFLICT (id) DO NOTHING", (first, first + self.size - 1))
                    b += 1
                    time.sleep(self.pause)
                except psycopg.OperationalError:
                    conn = None
                    time.sleep(0.2)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def seed_users(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 100) g")


@pytest.fixture
def logical_url(pg: PgCluster, app_template: str) -> Iterator[str]:
    name = clone(pg, app_template)
    yield pg.url(name)
    drop(pg, name)


@pytest.mark.slow
def test_sigkill_five_times_during_50k_rows(logical_url: str, tmp_path: Path) -> None:
    url = logical_url
    runner.migrate(url, write_logical(tmp_path, dbname(url)))
    cfg = tmp_path / "skene.yaml"
    seed_users(url)
    loader = Loader(url, batches=500, size=100, pause=0.02)
    loader.start()
    kills_during_load = 0
    for _ in range(5):
        before = int(scalar(url, INSERT_EVENTS) or 0)
        proc = start_listener(url, cfg)
        try:
            wait_or_explain(proc, cfg, lambda b=before: loader.error is not None or int(
                scalar(url, INSERT_EVENTS) or 0) > b, "the listener to capture something")
            assert loader.error is None
            kills_during_load += loader.is_alive()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert kills_during_load >= 1, "no kill landed while the load was running"
    loader.join(120)
    assert loader.error is None
    proc = start_listener(url, cfg)
    try:
        wait_or_explain(proc, cfg, lambda: scalar(url, INSERT_EVENTS) == 50_000, "catch-up", 180)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, listener_log(cfg)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_exactly_once(url)
    assert scalar(url, "SELECT count(*) FROM user_actions") == 50_000


@pytest.mark.slow
def test_postgres_restart_under_load(tmp_path: Path) -> None:
    """Its own cluster: a clean `pg_ctl restart` and a crash-like immediate one (the slot's
    position then goes back to the last checkpoint, so changes are replayed and must dedupe)."""
    cluster = PgCluster.start()
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        url = cluster.url("app")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        runner.migrate(url, write_logical(tmp_path, "app"))
        seed_users(url)
        cfg = tmp_path / "skene.yaml"
        proc = start_listener(url, cfg)
        loader = Loader(url, batches=200, size=100, pause=0.02)
        try:
            loader.start()
            for mode in ("fast", "immediate"):
                wait_for(lambda: int(scalar(url, INSERT_EVENTS) or 0) > 0, what="capture")
                cluster.pg_ctl("restart", "-m", mode)
                time.sleep(0.5)
            loader.join(180)
            assert loader.error is None and not loader.is_alive()
            total = scalar(url, "SELECT count(*) FROM user_actions")
            wait_or_explain(proc, cfg, lambda: scalar(url, INSERT_EVENTS) == total,
                            "the listener to reconnect by itself and catch up")
            assert proc.poll() is None, "the listener survived both restarts"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            assert "connection lost" in listener_log(cfg)  # it did notice, and reconnected
        finally:
            if proc.poll() is None:
                proc.kill()
        assert_exactly_once(url)
    finally:
        cluster.stop("immediate")


PEAK_RSS_LIMIT_MB = 200  # generous: a buffered 1M-row transaction would need several times this
DRAIN = """
import sys
from skene_cdc.config import load_config
from skene_cdc.listener.replication import LogicalCapture
drained = LogicalCapture(sys.argv[1], load_config(sys.argv[2])).drain()
# The child's own high-water mark: wait4's ru_maxrss would also count the pages it shared with
# pytest between fork and exec, i.e. pytest's size, not the listener's.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(drained, hwm_kb)
"""


@pytest.mark.slow
def test_one_million_row_transaction_in_flat_memory(logical_url: str, tmp_path: Path) -> None:
    url = logical_url
    runner.migrate(url, write_logical(tmp_path, dbname(url)))
    seed_users(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT 1 + g % 100, 'bulk' FROM generate_series(1, 1000000) g")
    proc = subprocess.Popen([sys.executable, "-c", DRAIN, url, str(tmp_path / "skene.yaml")],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            text=True)
    out, _ = proc.communicate()
    drained, hwm_kb = out.split()
    assert proc.returncode == 0 and drained == "1000100"  # + the 100 users
    peak_mb = int(hwm_kb) / 1024
    print(f"peak RSS of the logical listener for a 1M-row transaction: {peak_mb:.0f} MB")
    assert peak_mb < PEAK_RSS_LIMIT_MB
    # Capture's part ends in the queue (the consumer, not measured here, moves it on).
    assert scalar(url, "SELECT count(*) FROM skene.queue WHERE op = 'insert' "
                       "AND tbl = 'public.user_actions'::regclass") == 1_000_000
