"""Every value of every type (issue 15 items 1 and 2): skene never fails the app's write, and one
odd row never stops the pipeline, in trigger and logical mode, through kill -9."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from skene_cdc.config import Config
from skene_cdc.handlers import build_handlers
from skene_cdc.handlers.base import Event
from skene_cdc.listener.consumer import EventConsumer
from skene_cdc.listener.replication import LogicalCapture
from skene_cdc.migrations import runner
from skene_cdc.runtime import supervisor
from tests.conftest import DEFAULT_CONFIG, cli_env, consume, run_cli, scalar, wait_for, write_config
from tests.logical_util import dbname, logical_config

TABLE = """
CREATE TABLE app_events (id bigserial PRIMARY KEY, user_id bigint, kind text, payload json,
                         at timestamp);
"""
ACTIVITY = """    - table: public.app_events
      user_id: user_id
      timestamp: at
      event: kind
"""
# (kind, payload, at): valid json that jsonb refuses, and event times no calendar holds.
POISON = [
    ("nul", '{"a": "x\\u0000y"}', "2026-11-01 10:00:00"),
    ("huge", '{"n": 1e1000000}', "2026-11-01 10:00:00"),
    ("nul_key", '{"\\u0000": 1}', "2026-11-01 10:00:00"),
    ("infinity", '{}', "infinity"),
    ("bc", '{}', "0044-03-15 12:00:00 BC"),
    ("year_10000", '{}', "10000-01-01 00:00:00"),
]


def setup_db(url: str, tmp: Path, mode: str = "trigger") -> Config:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE)
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test'), (2, 'b@x.test')")
    text = (DEFAULT_CONFIG.replace("capture:\n", ACTIVITY + "capture:\n", 1) if mode == "trigger"
            else logical_config(f"s_{dbname(url)}", activity=ACTIVITY))
    config = write_config(tmp, text)
    runner.migrate(url, config)
    return config


def write_poison(url: str, times: int = 1) -> None:
    """The app's own writes: every one of them must succeed."""
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(times):
            for kind, payload, at in POISON:
                conn.execute("INSERT INTO app_events (user_id, kind, payload, at) "
                             "VALUES (1, %s, %s, %s)", (kind, payload, at))
            conn.execute("INSERT INTO app_events (user_id, kind, payload, at) "
                         "VALUES (2, 'fine', '{\"ok\": true}', now())")


def assert_repaired(url: str, times: int = 1) -> None:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT event, data, notes, occurred_at, captured_at FROM "
                            "skene.events WHERE table_name = 'public.app_events'").fetchall()
    by_kind: dict[str, list[tuple[object, ...]]] = {}
    for r in rows:
        by_kind.setdefault(str(r[0]), []).append(r)
    assert {k: len(v) for k, v in by_kind.items()} == {
        **{k: times for k, _, _ in POISON}, "fine": times}, "each row exactly once"
    nul = by_kind["nul"][0]
    assert nul[1]["payload"] == {"a": "x\ufffdy"} and nul[2] == {"nul_replaced": ["$.payload.a"]}
    huge = by_kind["huge"][0]
    assert huge[1]["payload"] == {"n": "1e1000000"}
    assert huge[2] == {"numbers_as_text": ["$.payload.n"]}
    for kind, raw in (("infinity", "infinity"), ("bc", "0044-03-15T12:00:00 BC"),
                      ("year_10000", "10000-01-01T00:00:00")):
        row = by_kind[kind][0]
        assert row[2] == {"occurred_at": raw}, row
        # kept as the time of capture: not later than when skene stored it
        assert row[3] <= row[4]
    assert by_kind["fine"][0][2] is None


def test_trigger_mode_never_fails_the_write_nor_stops_the_consumer(db_url: str,
                                                                   tmp_path: Path) -> None:
    config = setup_db(db_url, tmp_path)
    write_poison(db_url)
    consume(db_url, config)
    assert_repaired(db_url)
    assert scalar(db_url, "SELECT repaired FROM skene.cursors") == 3
    assert scalar(db_url, "SELECT count(*) FROM skene.queue_pending") == 0
    status = json.loads(run_cli("status", "--json", url=db_url,
                                config_path=tmp_path / "skene.yaml").stdout)
    assert status["capture"][0]["repaired"] == 3


def test_logical_mode_copies_and_repairs_the_same_values(app_url: str, tmp_path: Path) -> None:
    config = setup_db(app_url, tmp_path, mode="logical")
    write_poison(app_url)
    assert LogicalCapture(app_url, config).drain() > 0
    consume(app_url, config)
    assert_repaired(app_url)


@pytest.mark.slow
def test_kill_9_among_poison_rows_loses_and_repeats_nothing(db_url: str, tmp_path: Path) -> None:
    config = setup_db(db_url, tmp_path)
    cfg = tmp_path / "skene.yaml"
    cfg.write_text(cfg.read_text().replace("poll_interval: 1s", "poll_interval: 1s\n  batch_size: 5"))
    proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], text=True,
                            env=cli_env(db_url, cfg), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        write_poison(db_url, times=40)
        wait_for(lambda: int(scalar(db_url, "SELECT processed FROM skene.cursors") or 0) > 40,
                 what="progress")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert int(scalar(db_url, "SELECT processed FROM skene.cursors") or 0) < 2 + 40 * 7, \
            "the kill landed after everything was done; the test proves nothing"
    finally:
        if proc.poll() is None:
            proc.kill()
    run_cli("listen", "--once", url=db_url, config_path=cfg)
    assert_repaired(db_url, times=40)
    assert config is not None


class FailsFor:
    """A handler that fails on one user's events, as a condition that divides by a user's
    column would."""

    name = "fails_for"

    def __init__(self, user: str) -> None:
        self.user = user

    def handle(self, conn: object, events: list[Event]) -> None:
        if any(e.user_id == self.user for e in events):
            raise psycopg.errors.DivisionByZero(f"division by zero for user {self.user}")


def test_a_row_that_fails_alone_is_quarantined_and_replayed(db_url: str, config: Config,
                                                            tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 20) g")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT g, 'a' FROM generate_series(1, 20) g")
    consumer = EventConsumer(db_url, [*build_handlers(config), FailsFor("13")], batch_size=8)
    assert consumer.drain() == 38  # 20 signups + 20 actions, but user 13's two
    assert scalar(db_url, "SELECT count(*) FROM skene.activity_daily") == 19
    held = scalar(db_url, "SELECT string_agg(op || ' ' || error, ', ' ORDER BY id) "
                          "FROM skene.quarantine")
    assert held == ("insert DivisionByZero: division by zero for user 13, "
                    "insert DivisionByZero: division by zero for user 13")
    assert scalar(db_url, "SELECT quarantined FROM skene.cursors") == 2
    listed = run_cli("quarantine", "list", url=db_url, config_path=tmp_path / "skene.yaml")
    assert "division by zero for user 13" in listed.stdout
    # The cause is fixed (here: the handler), the change goes back through the queue, once.
    out = run_cli("quarantine", "replay", "--all", url=db_url, config_path=tmp_path / "skene.yaml")
    assert "2 change(s) back in the queue" in out.stdout
    assert EventConsumer(db_url, build_handlers(config)).drain() == 2
    assert scalar(db_url, "SELECT count(*) FROM skene.activity_daily") == 20
    assert "nothing in quarantine" in run_cli("quarantine", "list", url=db_url,
                                              config_path=tmp_path / "skene.yaml").stdout


def test_a_failure_of_every_row_quarantines_nothing(db_url: str, config: Config) -> None:
    """A broken handler (a condition, a renamed column) is not the data's fault."""

    class Broken:
        name = "broken"

        def handle(self, conn: object, events: list[Event]) -> None:
            raise psycopg.errors.UndefinedColumn("column u.full_name does not exist")

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 10) g")
    consumer = EventConsumer(db_url, [Broken()], batch_size=4)
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        consumer._prepare(conn)  # noqa: SLF001
        with pytest.raises(psycopg.Error):
            consumer.step(conn)
    assert scalar(db_url, "SELECT count(*) FROM skene.quarantine") == 0
    assert scalar(db_url, "SELECT processed FROM skene.cursors") == 0
    assert "column u.full_name does not exist" in str(
        scalar(db_url, "SELECT last_error FROM skene.cursors"))


def test_listen_stops_non_zero_when_a_part_fails(caplog: pytest.LogCaptureFixture) -> None:
    class Dies:
        name = "dies"

        def drain(self) -> int:
            return 0

        def run(self, stop: threading.Event) -> None:
            raise RuntimeError("boom\nwith a second line")

    class Waits:
        name = "waits"

        def drain(self) -> int:
            return 0

        def run(self, stop: threading.Event) -> None:
            stop.wait(30)

    with caplog.at_level(logging.ERROR, logger="skene.listener"):
        assert supervisor.run_forever([Dies(), Waits()]) is False
    text = caplog.text
    assert "dies: stopped by an error: RuntimeError: boom" in text
    assert "second line" not in text and "Traceback" not in text
