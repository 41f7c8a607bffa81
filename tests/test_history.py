"""skene.events as a day-partitioned history (issue 12): retention drops whole days, rollups keep
what loops need, status and check tell the disk story, and an old install's events move over."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic import command

from skene_cdc.config import Config
from skene_cdc.listener.history import History, partition_name, partitions
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, consume, run_cli, scalar, write_config

Dict = psycopg.rows.dict_row


def days_of(url: str) -> list[date]:
    with psycopg.connect(url, row_factory=Dict) as conn:
        return [p.day for p in partitions(conn)]


def test_retention_drops_whole_days_and_rollups_keep_the_rest(db_url: str, config: Config,
                                                              tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        # One action per day for ten days: the history keeps 3 of them (events.retention 3d),
        # the rollups all ten.
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) "
                     "SELECT 1, 'day' || g, now() - g * interval '1 day' "
                     "FROM generate_series(0, 9) g")
    cfg = write_config(tmp_path, DEFAULT_CONFIG + "events: {retention: 3d}\n")
    consume(db_url, cfg)
    assert scalar(db_url, "SELECT count(*) FROM skene.user_events WHERE user_id = '1'") == 10
    kept = scalar(db_url, "SELECT count(*) FROM skene.events WHERE table_name = "
                          "'public.user_actions'")
    assert kept == 3
    # Days later (simulated): the oldest days go as whole partitions, newer ones come.
    with psycopg.connect(db_url, row_factory=Dict) as conn:
        history = History(timedelta(days=3))
        with conn.transaction():
            done = history.maintain(conn, now=datetime.now(UTC) + timedelta(days=2))
    assert any(f"{partition_name(today - timedelta(days=1))} dropped" in d for d in done)
    assert min(days_of(db_url)) == today + timedelta(days=2) - timedelta(days=2)
    assert scalar(db_url, "SELECT count(*) FROM skene.user_events WHERE user_id = '1'") == 10
    assert scalar(db_url, "SELECT last_activity_at::date FROM skene.users") == today


def test_history_follows_its_clock(db_url: str) -> None:
    """`History(clock=...)` (the soak bench's simulated days): partitions are made around the
    clock's day and days past the retention by that clock dropped, as with real time."""
    later = datetime.now(UTC) + timedelta(days=20)
    with psycopg.connect(db_url, row_factory=Dict) as conn:
        history = History(timedelta(days=2), clock=lambda: later)
        with conn.transaction():
            history.maintain(conn)
        assert history.wanted(later.date()) and not history.wanted(later.date() - timedelta(2))
    assert min(days_of(db_url)) == later.date() - timedelta(days=1)
    assert later.date() + timedelta(days=2) in days_of(db_url)


def test_status_and_check_tell_the_disk_story(db_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "skene.yaml"
    write_config(tmp_path, DEFAULT_CONFIG + "events: {retention: 30d, disk_budget: 1kB}\n")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 50) g")
    run_cli("listen", "--once", url=db_url, config_path=cfg)
    report = json.loads(run_cli("status", "--json", url=db_url, config_path=cfg).stdout)
    assert isinstance(report["history"], list) and len(report["history"]) == 1
    h = report["history"][0]
    assert h["retention"] == "30d" and h["queue_depth"] == 0 and h["partitions"] >= 3
    assert h["history_bytes"] > 0 and h["oldest_day"] <= str(datetime.now(UTC).date())
    screen = run_cli("status", url=db_url, config_path=cfg).stdout
    assert "retention  30d" in screen and "0 waiting" in screen
    out = run_cli("check", url=db_url, config_path=cfg).stdout
    assert "over the 1.0 kB budget" in out


@pytest.mark.slow
def test_upgrade_moves_a_million_events_without_losing_any(app_url: str, tmp_path: Path) -> None:
    """An install from before the queue (0006) with 1,000,000 events, 25 of them not yet
    consumed: `migrate` renames the old table in one short transaction, queues the 25, and moves
    the rest into the history in chunks; each event ends up in exactly one place."""
    config = write_config(tmp_path, DEFAULT_CONFIG)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    command.upgrade(runner.alembic_config(app_url), "0006_freemium")
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at,
                                      activity, data)
            SELECT 'trigger', 'public.user_actions', 'insert', (1 + g % 1000)::text, 'old',
                   now() - (g % 20) * interval '1 hour', true,
                   jsonb_build_object('id', g, 'user_id', 1 + g % 1000)
            FROM generate_series(1, 1000000) g""")
        # The old listener had consumed all but the newest 25.
        conn.execute("INSERT INTO skene.cursors (name, txid, event_id, processed) "
                     "SELECT 'main', txid, id, 999975 FROM skene.events "
                     "ORDER BY id OFFSET 999974 LIMIT 1")
    out = run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml")
    assert "999,975 events moved into the partitioned history" in out.stdout, out.stdout
    assert "migrate: events into the partitioned history" in out.stderr  # progress
    assert scalar(app_url, "SELECT to_regclass('skene.events_legacy')") is None
    assert scalar(app_url, "SELECT count(*) FROM skene.events") == 999_975
    assert scalar(app_url, "SELECT count(*) FROM skene.queue") == 25
    consume(app_url, config)
    assert scalar(app_url, "SELECT count(*) FROM skene.events") == 1_000_000
    assert scalar(app_url, "SELECT count(DISTINCT (data->>'id')::int) FROM skene.events") \
        == 1_000_000
    # The 25 went through the handlers (and only they: the rollups were empty before).
    assert scalar(app_url, "SELECT sum(n) FROM skene.activity_daily") == 25
