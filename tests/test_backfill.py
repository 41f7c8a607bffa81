"""Backfill: existing activity rows become events once (trigger-captured rows are not doubled),
an interrupted run resumes, and retention sees existing users' history on day one. Plus the
progress helper: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from skene_cdc import backfill
from skene_cdc.config import Config, parse_config
from skene_cdc.errors import SkeneError
from skene_cdc.migrations import runner
from skene_cdc.progress import PlainTracker, StepProgress, progress
from tests.conftest import DEFAULT_CONFIG, consume, run_cli, write_config
from tests.setup_helpers import invoke

# History is kept forever here, so every backfilled row (60 days old) stays in skene.events.
WITH_PAGE_VIEWS = DEFAULT_CONFIG.replace("capture:", """\
    - table: public.page_views
      user_id: user_id
      timestamp: viewed_at
events: {retention: forever}
capture:""", 1)


def seed(url: str) -> None:
    """Three users with history from before skene; page_views has no primary key (ctid paging)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO users (id, email, name, created_at) VALUES
              (1, 'a@x.test', 'Ann', now() - interval '90 days'),
              (2, 'b@x.test', 'Bob', now() - interval '90 days'),
              (3, 'c@x.test', 'Cy', now() - interval '90 days');
            INSERT INTO user_actions (user_id, action_type, created_at)
              SELECT 1 + g % 2, 'login', now() - interval '60 days' + g * interval '1 hour'
              FROM generate_series(1, 25) g;
            CREATE TABLE page_views (user_id bigint, path text, viewed_at timestamptz);
            INSERT INTO page_views VALUES (3, '/a', now() - interval '2 days'),
                                          (3, '/b', now() - interval '1 day'),
                                          (NULL, '/anon', now());""")


def count(url: str, where: str = "true") -> int:
    """Events in skene.events once the consumer has moved what the queue holds."""
    consume(url, parse_config(WITH_PAGE_VIEWS))
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM skene.events WHERE {where}").fetchone()
        return int(row[0]) if row else 0


def test_backfill_imports_once_and_retention_sees_history(app_url: str, tmp_path: Path) -> None:
    seed(app_url)
    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, WITH_PAGE_VIEWS)
    invoke("migrate", url=app_url, config_path=cfg)
    # Live traffic between migrate and backfill is captured by the trigger (also inside a
    # savepoint, whose rows carry a subtransaction id, and an update of an old row)...
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (3, 'live')")
        with conn.transaction():
            conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (3, 'nested')")
        conn.execute("UPDATE user_actions SET action_type = 'edited' WHERE id = 1")
    proc = run_cli("backfill", "--batch-size", "7", url=app_url, config_path=cfg)
    # ...and not imported again: 24 of the 25 old rows (one was updated since), none of the new.
    assert "public.user_actions: 24 events imported from 27 rows" in proc.stdout, proc.stdout
    assert "public.page_views: 2 events imported from 3 rows" in proc.stdout
    # Non-TTY: plain progress lines on stderr, stdout stays the result.
    assert "backfill public.user_actions: 27/27 rows (100%), done in" in proc.stderr
    assert count(app_url, "external_id LIKE 'backfill:%'") == 26
    with psycopg.connect(app_url) as conn:
        per_row = conn.execute(
            "SELECT a.id, count(e.id) FROM user_actions a LEFT JOIN skene.events e "
            "ON e.table_name = 'public.user_actions' AND (e.data->>'id')::bigint = a.id "
            "AND e.op = 'insert' GROUP BY a.id HAVING count(e.id) <> 1").fetchall()
    # Every row has exactly one insert event, except the old row that was updated: it has the
    # update event (activity too) instead.
    assert per_row == [(1, 0)]
    assert count(app_url, "table_name = 'public.user_actions' AND op = 'update'") == 1

    assert "already backfilled" in invoke("backfill", url=app_url, config_path=cfg)
    assert count(app_url) == 26 + 3  # backfilled + live; users are never backfilled


def test_backfill_then_listen_day_one(app_url: str, tmp_path: Path) -> None:
    seed(app_url)
    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, WITH_PAGE_VIEWS)
    run_cli("migrate", "--backfill", url=app_url, config_path=cfg)
    assert count(app_url, "table_name = 'public.users'") == 0, "users are never backfilled"
    invoke("listen", "--once", url=app_url, config_path=cfg)
    with psycopg.connect(app_url) as conn:
        rows = conn.execute(
            "SELECT user_id, last_event, last_activity_at < now() - interval '7 days' AS dormant "
            "FROM skene.users ORDER BY user_id").fetchall()
    # Ann and Bob were last active ~59 days ago: dormant on day one. Cy viewed a page yesterday.
    assert rows == [("1", "login", True), ("2", "login", True), ("3", "page_views.insert", False)]


def test_interrupted_backfill_resumes(app_url: str, config: Config) -> None:
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT 1, 'a' || g FROM generate_series(1, 30) g")
    runner.migrate(app_url, config)
    db_url = app_url

    class Crash(Exception):
        pass

    @contextmanager
    def crashing(*_a: object, **_k: object) -> Iterator[object]:
        class Bar:
            def advance(self, n: int = 1) -> None:
                raise Crash  # after the first batch committed

            def update(self, **_k: object) -> None:
                pass

        yield Bar()

    original = backfill.progress
    backfill.progress = crashing  # type: ignore[assignment]
    try:
        with pytest.raises(Crash):
            backfill.backfill(db_url, batch_size=10)
    finally:
        backfill.progress = original
    assert count(db_url, "table_name = 'public.user_actions'") == 10
    results = backfill.backfill(db_url, batch_size=10, interactive=False)
    assert [(r.scanned, r.inserted) for r in results] == [(20, 20)]
    assert count(db_url, "table_name = 'public.user_actions'") == 30
    with psycopg.connect(db_url) as conn:
        dupes = conn.execute("SELECT count(*) FROM (SELECT data->>'id' FROM skene.events "
                             "WHERE table_name = 'public.user_actions' "
                             "GROUP BY 1 HAVING count(*) > 1) d").fetchone()
    assert dupes == (0,)


def test_backfill_needs_migrate_and_known_tables(app_url: str, db_url: str) -> None:
    with pytest.raises(SkeneError, match="not installed"):
        backfill.backfill(app_url)
    with pytest.raises(SkeneError, match="not a captured activity table: public.users"):
        backfill.backfill(db_url, tables=["public.users"])


def test_plain_progress_lines_with_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = PlainTracker("backfill t", 1000, "rows", out, every=5, clock=lambda: now[0])
    bar.emit()
    for _ in range(4):
        now[0] += 2
        bar.advance(100)
    bar.emit(final=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "backfill t: 0/1,000 rows (0%), 0 rows/s"
    # One periodic line (at 6 s, after 300 rows: 50 rows/s, 700 to go = 14 s), then the end.
    assert lines[1] == "backfill t: 300/1,000 rows (30%), 50 rows/s, ETA 14s"
    assert lines[2] == "backfill t: 400/1,000 rows (40%), done in 8s"


def test_rich_bar_on_a_terminal() -> None:
    out = io.StringIO()
    with progress("backfill t", total=50, stream=out, interactive=True) as bar:
        bar.advance(20)
        bar.advance(30)
    text = out.getvalue()
    assert "backfill t" in text and "50/50" in text and "ETA" in text and "\x1b[" in text


def test_step_progress_only_when_there_is_work() -> None:
    out = io.StringIO()
    with StepProgress("migrate", stream=out, interactive=False) as on_step:
        on_step(0, 0, "")
    assert out.getvalue() == ""
    with StepProgress("migrate", stream=out, interactive=False) as on_step:
        for i in range(3):
            on_step(i, 3, f"step {i}")
        on_step(3, 3, "")
    assert out.getvalue().splitlines()[-1].startswith("migrate: 3/3 steps (100%), done in")


def test_backfilled_history_does_not_fire_event_loops(app_url: str, tmp_path: Path) -> None:
    """History feeds the rollups, but a three-month-old login is not news: an event-triggered
    loop fires on the next live login only."""
    from tests.loops_support import ACTIVATION, deliveries

    on_login = ACTIVATION.replace("{type: database, table: users, event: insert}",
                                  "{type: event, event: login}").replace(
        "WHERE user_id = $1 AND action_type = 'first_project_created'", "WHERE user_id = $1")
    write_config(tmp_path, DEFAULT_CONFIG + "events: {retention: forever}\nloops:" + on_login)
    cfg = tmp_path / "skene.yaml"
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (1, 'a@x.test', 'Ann')")
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) "
                     "VALUES (1, 'login', now() - interval '90 days')")
    run_cli("migrate", "--backfill", url=app_url, config_path=cfg)
    run_cli("listen", "--once", url=app_url, config_path=cfg)
    assert count(app_url, "external_id LIKE 'backfill:%'") == 1
    assert deliveries(app_url) == []
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'login')")
    run_cli("listen", "--once", url=app_url, config_path=cfg)
    assert [(d["loop"], d["user_id"]) for d in deliveries(app_url)] == [("activation", "1")]
