"""Config changes and lifecycle (issue 10, item 5), with `skene-cdc listen` as a real process:
it picks up a changed skene.yaml (on change of the file and on SIGHUP) and refuses an invalid
one while it goes on with the old; `status` tells a running listener from a dead one;
`uninstall` stops a running listener cleanly and removes skene's Redis keys."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from skene_cdc.freemium.gate import Gate
from tests.conftest import DEFAULT_CONFIG, cli_env, run_cli, scalar, wait_for, write_config
from tests.freemium_support import freemium_config
from tests.loops_support import ACTIVATION, RETENTION, add_users
from tests.pgcluster import RedisServer


class Listener:
    """`skene-cdc listen` in its own process; its log goes to a file the test can read while
    it runs."""

    def __init__(self, url: str, cfg: Path, log: Path) -> None:
        self.log = log
        self.handle = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], text=True,
                                     env=cli_env(url, cfg), stdout=subprocess.DEVNULL,
                                     stderr=self.handle)

    def text(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.handle.close()
        return code


@contextmanager
def listening(url: str, cfg: Path, log: Path) -> Iterator[Listener]:
    listener = Listener(url, cfg, log)
    try:
        wait_for(lambda: scalar(url, "SELECT count(*) FROM skene.listeners") == 1,
                 what="the listener to start")
        yield listener
    finally:
        listener.stop()


def loop_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM skene.loops").fetchall()}


def test_listener_reloads_a_changed_config_and_refuses_an_invalid_one(db_url: str,
                                                                       tmp_path: Path) -> None:
    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, DEFAULT_CONFIG + "loops:" + ACTIVATION)
    with listening(db_url, cfg, tmp_path / "listen.log") as listener:
        wait_for(lambda: loop_names(db_url) == {"activation"}, what="loops registered")
        # A new loop in the file: the listener reloads by itself.
        write_config(tmp_path, DEFAULT_CONFIG + "loops:" + ACTIVATION + RETENTION)
        wait_for(lambda: loop_names(db_url) == {"activation", "retention"},
                 what="the changed skene.yaml picked up")
        assert "skene.yaml changed: reloaded" in listener.text()
        # An invalid file is refused with its error; the running config goes on.
        cfg.write_text(cfg.read_text().replace("cooldown", "cooldwn", 1)
                       if "cooldown" in cfg.read_text() else
                       cfg.read_text() + "  - name: broken\n    typo: 1\n")
        wait_for(lambda: "not reloaded" in listener.text(), what="the refusal")
        refusal = next(line for line in listener.text().splitlines() if "not reloaded" in line)
        assert "keeping the running config" in refusal
        assert f"{cfg}:" in listener.text() and "unknown key 'typo'" in listener.text()
        add_users(db_url, (1, "Ann"))  # still capturing with the old config
        wait_for(lambda: scalar(db_url, "SELECT processed FROM skene.cursors") == 1,
                 what="the event processed")
        # SIGHUP reloads on demand (here: the file fixed again, and read at once).
        write_config(tmp_path, DEFAULT_CONFIG + "loops:" + ACTIVATION)
        listener.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP" in listener.text(), what="SIGHUP handled")
        assert listener.proc.poll() is None
    assert listener.proc.returncode == 0, listener.text()
    assert "Traceback" not in listener.text()


def test_status_tells_a_running_listener_from_a_dead_one(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    cfg = tmp_path / "skene.yaml"
    listener = Listener(db_url, cfg, tmp_path / "listen.log")
    try:
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM skene.listeners") == 1,
                 what="the listener to start")
        [running] = json.loads(run_cli("status", "--json", url=db_url,
                                       config_path=cfg).stdout)["listeners"]
        assert (running["state"], running["connected"]) == ("running", True), running
        assert "running" in run_cli("status", url=db_url, config_path=cfg,
                                    COLUMNS="100").stdout
        listener.proc.kill()  # kill -9: no chance to unregister
        listener.proc.wait(30)
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "application_name LIKE 'skene-cdc listen%'") == 0,
                 what="its sessions to end")
        [dead] = json.loads(run_cli("status", "--json", url=db_url,
                                    config_path=cfg).stdout)["listeners"]
        assert (dead["state"], dead["connected"]) == ("dead", False), dead
        screen = run_cli("status", url=db_url, config_path=cfg, COLUMNS="100").stdout
        assert "dead: no database session" in screen, screen
    finally:
        listener.stop()


def test_uninstall_stops_a_running_listener_cleanly(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG + "loops:" + ACTIVATION)
    cfg = tmp_path / "skene.yaml"
    listener = Listener(db_url, cfg, tmp_path / "listen.log")
    try:
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM skene.listeners") == 1,
                 what="the listener to start")
        out = run_cli("uninstall", "--yes", url=db_url, config_path=cfg).stdout
        assert "stopped 1 running listener" in out, out
        assert listener.proc.wait(60) == 0
    finally:
        listener.stop()
    log = listener.text()
    assert "Traceback" not in log and " ERROR " not in log and "WARNING" not in log, log
    said = [line for line in log.splitlines() if "uninstall" in line]
    assert len(said) == 1 and "stopping" in said[0], log


def test_uninstall_removes_skenes_redis_keys(db_url: str, redis_server: RedisServer,
                                             tmp_path: Path) -> None:
    cfg_model = freemium_config(tmp_path, redis_server.url, limit=1)
    assert cfg_model.redis is not None
    prefix = cfg_model.redis.key_prefix
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    r.set("app:session:1", "the app's own")
    gate = Gate.from_config(cfg_model)
    for _ in range(3):
        gate.check("1", "POST", "/api/features/x")
    cfg = tmp_path / "skene.yaml"
    run_cli("listen", "--once", url=db_url, config_path=cfg)  # the consumer group on the stream
    assert r.keys(f"{prefix}*"), "the gate wrote plan, counter and stream keys"
    kept = run_cli("uninstall", "--yes", "--keep-redis", url=db_url, config_path=cfg).stdout
    assert "kept skene's Redis keys" in kept and r.keys(f"{prefix}*")
    run_cli("migrate", url=db_url, config_path=cfg)
    out = run_cli("uninstall", "--yes", url=db_url, config_path=cfg).stdout
    assert f"removed skene's Redis keys ({prefix}*" in out, out
    assert r.keys(f"{prefix}*") == []
    assert r.get("app:session:1") == "the app's own"


def test_switching_to_logical_is_picked_up_and_status_says_who_reads_the_slot(
        db_url: str, tmp_path: Path) -> None:
    """The reported case: the config switched to logical capture and `migrate` made the slot,
    while a listener kept running on the old config; `status` said "inactive: is skene-cdc
    listen running?" although one was. Now the listener reloads and streams the slot, and
    status says whether a listener is running when a slot is inactive."""
    from tests.logical_util import dbname, logical_config

    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, DEFAULT_CONFIG)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    write_config(frozen, DEFAULT_CONFIG)  # a listener that will not see the change

    def health() -> str:
        [slot] = json.loads(run_cli("status", "--json", url=db_url,
                                    config_path=cfg).stdout)["replication"]
        return str(slot["health"])

    with listening(db_url, cfg, tmp_path / "listen.log") as listener, \
            listening(db_url, frozen / "skene.yaml", tmp_path / "frozen.log"):
        write_config(tmp_path, logical_config(f"s_{dbname(db_url)}"))
        run_cli("migrate", url=db_url, config_path=cfg)
        wait_for(lambda: health() == "ok", timeout=60, what="the reloaded listener streaming")
        assert "reloaded" in listener.text()
    # Both stopped: nobody reads the slot, and status says so.
    assert health() == "inactive: no skene-cdc listen is running"
    with listening(db_url, frozen / "skene.yaml", tmp_path / "frozen2.log"):
        assert health().startswith("inactive: a skene-cdc listen is running but not reading "
                                   "this slot")
