"""No email the user did not ask for (issue 10, item 3): a schedule catches up only slots after
the loop (or its current definition) was registered, so installing skene at 08:35 does not
fire yesterday's 09:00 retention run at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from skene_cdc.db import connect
from skene_cdc.handlers.loops.plan import require_plans
from skene_cdc.handlers.loops.schedule import LoopScheduler, next_fire, previous_fire
from tests.loops_support import (
    RETENTION,
    act,
    add_users,
    deliveries,
    loops_config,
    pipeline,
    rows,
    run_loop,
)


def test_the_first_listen_does_not_fire_a_slot_from_before_the_loop(db_url: str,
                                                                     tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    act(db_url, 1, "login", days_ago=8)
    act(db_url, 2, "login", days_ago=9)
    pipeline(db_url, config)  # `listen --once` right after install: yesterday's 09:00 is past
    assert deliveries(db_url) == []
    assert rows(db_url, "SELECT id FROM skene.schedule_firings") == []
    run_loop(db_url, config, "retention")  # an explicit `loops run` fires now
    assert len(deliveries(db_url, "retention")) == 2


def test_catch_up_only_for_slots_after_registration(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    [plan] = require_plans(config)
    scheduler = LoopScheduler(db_url, config, [plan], listener_id="t")
    with connect(db_url) as conn:
        scheduler.start(conn)
        [registered] = conn.execute("SELECT updated_at FROM skene.loops").fetchall()
        since = registered["updated_at"]
        assert scheduler.tick(conn, since) == 0  # the slot before registration: never
        first = next_fire(plan, since)
        assert scheduler.tick(conn, first + timedelta(minutes=1)) == 1  # the next slot fires
        # Down for three days: one catch-up firing, for a slot the loop already existed at.
        assert scheduler.tick(conn, first + timedelta(days=3, minutes=1)) == 1
    fired = [f["fire_time"] for f in rows(
        db_url, "SELECT fire_time FROM skene.schedule_firings ORDER BY fire_time")]
    assert fired == [first, first + timedelta(days=3)]


def test_a_changed_definition_starts_its_own_schedule(db_url: str, tmp_path: Path) -> None:
    """A new cron (or any change to the loop) counts from when the change was registered."""
    config = loops_config(tmp_path, RETENTION)
    [plan] = require_plans(config)
    with connect(db_url) as conn:
        LoopScheduler(db_url, config, [plan], listener_id="t").start(conn)
        conn.execute("UPDATE skene.loops SET registered_at = registered_at - interval '30 days',"
                     " updated_at = updated_at - interval '30 days'")
        conn.commit()
    now = datetime.now(UTC)
    changed = loops_config(tmp_path, RETENTION.replace('"0 9 * * *"', '"0 10 * * *"'))
    [new_plan] = require_plans(changed)
    scheduler = LoopScheduler(db_url, changed, [new_plan], listener_id="t")
    with connect(db_url) as conn:
        scheduler.start(conn)
        assert previous_fire(new_plan, now) < now
        assert scheduler.tick(conn, now) == 0


def test_dormant_counts_signup_as_the_first_activity(db_url: str, tmp_path: Path) -> None:
    """Users who signed up and never did anything have no activity row, so `dormant` never
    picked them: the most important dormant users of all."""
    config = loops_config(tmp_path, RETENTION)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name, created_at) VALUES "
                     "(1, 'quiet@x.test', 'Quinn', now() - interval '10 days'), "
                     "(2, 'new@x.test', 'Nia', now() - interval '2 days'), "
                     "(3, 'busy@x.test', 'Bo', now() - interval '30 days')")
    act(db_url, 3, "login", days_ago=1)
    run_loop(db_url, config, "retention")
    [sent] = deliveries(db_url, "retention")
    assert sent["user_id"] == "1"
    user = sent["context"]["user"]
    signed_up = rows(db_url, "SELECT created_at FROM users WHERE id = 1")[0]["created_at"]
    assert datetime.fromisoformat(user["last_activity_at"]) == signed_up
    assert (user["last_event"], user["days_inactive"]) == ("signup", 10)
    run_loop(db_url, config, "retention")  # once per spell, as for everyone
    assert len(deliveries(db_url, "retention")) == 1
