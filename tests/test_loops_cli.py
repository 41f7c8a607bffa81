"""The loops as a user drives them: `loops run [--dry-run]`, `loops list`, `status`, and two
`skene-cdc listen` processes against one database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import cli_env, run_cli
from tests.loops_support import (
    ACTIVATION,
    RETENTION,
    act,
    add_users,
    deliveries,
    established,
    loops_config,
    rows,
)

STATE = ("SELECT (SELECT count(*) FROM skene.deliveries) AS deliveries, "
         "(SELECT count(*) FROM skene.enrolments) AS enrolments, "
         "(SELECT count(*) FROM skene.schedule_firings) AS firings")


def test_loops_run_dry_run_prints_and_records_nothing(db_url: str, tmp_path: Path) -> None:
    established(db_url, loops_config(tmp_path, ACTIVATION, RETENTION))
    cfg = tmp_path / "skene.yaml"
    add_users(db_url, (1, "Ann"), (2, "Bob"), (3, "Cy"))
    act(db_url, 1, "login", days_ago=9)
    act(db_url, 2, "login", days_ago=1)
    run_cli("listen", "--once", url=db_url, config_path=cfg)  # rollups, and the 9:00 firing
    assert [d["user_id"] for d in deliveries(db_url)] == ["1"]
    act(db_url, 3, "login", days_ago=8)
    # The listener rolls Cy's activity up; today's firing has run, so nobody is emailed.
    assert "events: 1" in run_cli("listen", "--once", url=db_url, config_path=cfg).stdout
    before = rows(db_url, STATE)
    out = run_cli("loops", "run", "retention", "--dry-run", url=db_url, config_path=cfg,
                  COLUMNS="200")
    assert "cy@x.test" in out.stdout and "re_engagement" in out.stdout
    assert "ann@x.test" not in out.stdout  # already emailed for this spell
    assert "dry run: 1 email(s) would get these users; nothing was recorded" in out.stdout
    assert rows(db_url, STATE) == before
    out = run_cli("loops", "run", "retention", url=db_url, config_path=cfg)
    assert "1 email(s) enqueued for the outbox" in out.stdout
    assert [d["user_id"] for d in deliveries(db_url)] == ["1", "3"]


def test_loops_list_status_and_unknown_loop(db_url: str, tmp_path: Path) -> None:
    loops_config(tmp_path, ACTIVATION, RETENTION)
    cfg = tmp_path / "skene.yaml"
    add_users(db_url, (1, "Ann"))
    act(db_url, 1, "first_project_created")
    run_cli("listen", "--once", url=db_url, config_path=cfg)
    out = run_cli("loops", "list", url=db_url, config_path=cfg, COLUMNS="200")
    assert "activation_welcome" in out.stdout and "0 9 * * *" in out.stdout
    assert "funnel" in out.stdout
    status = json.loads(run_cli("status", "--json", url=db_url, config_path=cfg).stdout)
    assert [(r["loop"], r["variant"], r["enrolled"], r["converted"]) for r in status["loops"]] == [
        ("activation", "(all)", 1, 1)]
    proc = run_cli("loops", "run", "nope", url=db_url, config_path=cfg, check=False)
    assert proc.returncode == 2
    assert "there is no loop named 'nope'" in proc.stderr and "activation, retention" in proc.stderr


def test_two_listeners_never_send_twice_or_fire_twice(db_url: str, tmp_path: Path) -> None:
    every_minute = RETENTION.replace('"0 9 * * *"', '"* * * * *"')
    established(db_url, loops_config(tmp_path, ACTIVATION, every_minute))
    cfg = tmp_path / "skene.yaml"
    dormant = list(range(1, 31))
    add_users(db_url, *[(i, f"U{i}") for i in dormant])
    for i in dormant:
        act(db_url, i, "login", days_ago=8)
    procs = [subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], text=True,
                              env=cli_env(db_url, cfg), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(2)]
    try:
        fresh = list(range(100, 120))
        add_users(db_url, *[(i, f"N{i}") for i in fresh])
        for i in fresh:
            act(db_url, i, "first_project_created")
        want = len(dormant) + len(fresh)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if len(deliveries(db_url)) >= want and rows(
                    db_url, "SELECT count(*) AS n FROM skene.schedule_firings")[0]["n"] >= 1:
                break
            time.sleep(0.2)
        # both listeners have been through at least one tick (each tries the same firing)
        time.sleep(1)
    finally:
        for p in procs:
            p.terminate()
        outputs = [p.communicate(timeout=30) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err and " ERROR " not in err, err
    sent = deliveries(db_url)
    assert len(sent) == want
    assert len({(d["loop"], d["user_id"], d["episode"]) for d in sent}) == want
    firings = rows(db_url, "SELECT loop, step, fire_time, enqueued, claimed_by "
                           "FROM skene.schedule_firings ORDER BY fire_time")
    assert len({(f["loop"], f["step"], f["fire_time"]) for f in firings}) == len(firings)
    assert sum(f["enqueued"] for f in firings) == len(dormant)
    listeners = {f"{p.pid}" for p in procs}
    assert {f["claimed_by"].rsplit(":", 1)[1] for f in firings} <= listeners


def test_dry_run_after_backfill_shows_who_will_be_emailed(app_url: str, tmp_path: Path) -> None:
    """docs/init.md: after `migrate --backfill`, `loops run retention --dry-run` shows who will
    be emailed. It showed nobody: backfilled history reached the rollups only when a listener
    ran. Now every run first processes pending captured events (a dry run rolls that back too),
    so it shows what the real run would do, whenever it is called."""
    loops_config(tmp_path, RETENTION)
    cfg = tmp_path / "skene.yaml"
    add_users(app_url, (1, "Ann"), (2, "Bob"))
    act(app_url, 1, "login", days_ago=9)  # the app's history, before skene
    act(app_url, 2, "login", days_ago=1)
    run_cli("migrate", "--backfill", url=app_url, config_path=cfg)
    before = rows(app_url, "SELECT (SELECT count(*) FROM skene.user_activity) AS rolled_up, "
                           "(SELECT processed FROM skene.cursors WHERE name = 'main') AS cursor")
    out = run_cli("loops", "run", "retention", "--dry-run", url=app_url, config_path=cfg,
                  COLUMNS="200")
    assert "ann@x.test" in out.stdout and "bob@x.test" not in out.stdout, out.stdout
    assert "dry run: 1 email(s) would get these users" in out.stdout
    assert "2 captured event(s) processed first" in out.stderr, out.stderr
    assert rows(app_url, "SELECT (SELECT count(*) FROM skene.user_activity) AS rolled_up, "
                         "(SELECT processed FROM skene.cursors WHERE name = 'main') AS cursor"
                ) == before  # rolled back: the listener will process them for real
    out = run_cli("loops", "run", "retention", url=app_url, config_path=cfg)
    assert "1 email(s) enqueued for the outbox" in out.stdout
    assert [d["user_id"] for d in deliveries(app_url)] == ["1"]
