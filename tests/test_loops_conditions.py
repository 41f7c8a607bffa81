"""The built-in conditions compiled to SQL, each with near-miss users that a wrong comparison,
window or aggregate would let through (or leave out); sticky variants and their funnel."""

from __future__ import annotations

from pathlib import Path

from skene_cdc.handlers.decision import sticky_fraction
from tests.loops_support import (
    act,
    add_users,
    deliveries,
    enrolments,
    established,
    execute,
    loops_config,
    pipeline,
    rows,
    run_loop,
)


def scheduled(name: str, condition: str, extra: str = "") -> str:
    return f"""
  - name: {name}
    type: retention
    steps:
      - trigger: {{type: schedule, cron: "0 9 * * *", timezone: Europe/Berlin}}
        condition: {condition}
        action: {{type: email, template: {name}_mail}}
{extra}"""


def test_declining(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, scheduled(
        "declining", "{type: declining, ratio: 0.5, min_last_week: 3}"))
    established(db_url, config)  # registered before the slot
    add_users(db_url, *[(i, f"U{i}") for i in range(1, 8)])
    # (user, events last week (8-13 days ago), events this week (0-6 days ago))
    act(db_url, 1, "login", days_ago=10, times=10)
    act(db_url, 1, "login", days_ago=1, times=2)      # 2 <= 0.5 * 10: declining
    act(db_url, 2, "login", days_ago=10, times=10)
    act(db_url, 2, "login", days_ago=1, times=6)      # 6 > 5: near miss
    act(db_url, 3, "login", days_ago=9, times=10)
    act(db_url, 3, "login", days_ago=2, times=5)      # exactly half: declining
    act(db_url, 4, "login", days_ago=10, times=2)     # too little last week to call it a trend
    act(db_url, 5, "login", days_ago=16, times=10)    # two weeks ago is not last week
    act(db_url, 6, "login", days_ago=7, times=4)      # day -7 belongs to last week ...
    act(db_url, 6, "login", days_ago=0, times=2)      # ... so 2 <= 0.5 * 4: declining
    act(db_url, 7, "login", days_ago=6, times=4)      # day -6 is this week: 0 last week
    pipeline(db_url, config)
    sent = deliveries(db_url)
    assert [d["user_id"] for d in sent] == ["1", "3", "6"]
    user = sent[0]["context"]["user"]
    assert (user["activity_this_week"], user["activity_last_week"]) == (2, 10)
    # the same weeks as skene.users shows
    assert rows(db_url, "SELECT activity_this_week AS t, activity_last_week AS l FROM skene.users "
                        "WHERE user_id = '6'") == [{"t": 2, "l": 4}]


def test_stopped(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, scheduled("stopped", "{type: stopped, event: export, days: 7}"))
    established(db_url, config)  # registered before the slot
    add_users(db_url, *[(i, f"U{i}") for i in range(1, 6)])
    act(db_url, 1, "export", days_ago=10, times=3)
    act(db_url, 1, "login", days_ago=0)              # active, but stopped exporting
    act(db_url, 2, "export", days_ago=10)
    act(db_url, 2, "export", days_ago=2)             # still exports: its last use decides
    act(db_url, 3, "login", days_ago=10)             # never exported: nothing to stop
    act(db_url, 4, "export", days_ago=6.9)           # near miss
    act(db_url, 5, "export_csv", days_ago=20)        # a different event
    pipeline(db_url, config)
    sent = deliveries(db_url)
    assert [d["user_id"] for d in sent] == ["1"]
    user = sent[0]["context"]["user"]
    assert user["stopped_event"] == "export" and user["times_used"] == 3
    assert sent[0]["episode"].startswith("stopped:export:")
    run_loop(db_url, config, "stopped")
    assert len(deliveries(db_url)) == 1


def test_milestone_once_per_count_on_each_event(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, """
  - name: milestones
    type: milestone
    steps:
      - trigger: {type: event, event: project_created}
        condition: {type: milestone, event: project_created, counts: [3, 5]}
        action: {type: email, template: milestone}
""")
    add_users(db_url, (1, "Ann"), (2, "Bob"), (3, "Cy"))
    act(db_url, 1, "project_created", times=2)       # 2: nothing yet
    act(db_url, 2, "login", times=4)                 # many events, but not this one
    act(db_url, 3, "project_created", times=6)       # straight past 3 to 6: the 5 email only
    pipeline(db_url, config)
    assert [(d["user_id"], d["episode"]) for d in deliveries(db_url)] == [
        ("3", "milestone:project_created:5")]
    act(db_url, 1, "project_created")                # 3
    pipeline(db_url, config)
    act(db_url, 1, "project_created")                # 4: no new count
    pipeline(db_url, config)
    act(db_url, 1, "project_created")                # 5
    act(db_url, 3, "project_created")                # 7: no new count for Cy
    pipeline(db_url, config)
    run_loop(db_url, config, "milestones")           # evaluating everyone adds nothing
    got = [(d["user_id"], d["episode"], d["context"]["user"]["milestone_total"])
           for d in deliveries(db_url)]
    assert got == [("1", "milestone:project_created:3", 3), ("1", "milestone:project_created:5", 5),
                   ("3", "milestone:project_created:5", 6)]
    [funnel] = rows(db_url, "SELECT * FROM skene.loop_funnel")
    assert (funnel["sent"], funnel["converted"], float(funnel["conversion_rate"])) == (3, 3, 1.0)


def test_variants_are_sticky_and_the_funnel_splits_by_variant(db_url: str,
                                                              tmp_path: Path) -> None:
    config = loops_config(tmp_path, """
  - name: winback
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: dormant, days: 7}
        action:
          type: email
          variants: [{template: plain, weight: 1}, {template: discount, weight: 3}]
""")
    established(db_url, config)  # registered before the slot
    n = 40
    add_users(db_url, *[(i, f"U{i}") for i in range(1, n + 1)])
    for i in range(1, n + 1):
        act(db_url, i, "login", days_ago=20)
    pipeline(db_url, config)
    first = {d["user_id"]: d["variant"] for d in deliveries(db_url)}
    assert len(first) == n and set(first.values()) == {"plain", "discount"}
    for uid, variant in first.items():  # weights 1:3 over the user's fixed point
        assert variant == ("plain" if sticky_fraction("winback", uid) < 0.25 else "discount")
    assert all(d["template"] == d["variant"] for d in deliveries(db_url))
    assert {u: e["variant"] for u, e in enrolments(db_url, "winback").items()} == first
    # a second spell, after the cooldown: every user keeps their variant
    for i in range(1, n + 1):
        act(db_url, i, "login", days_ago=10)
    pipeline(db_url, config)
    execute(db_url, "UPDATE skene.enrolments SET sent_at = sent_at - interval '31 days', "
                    "enrolled_at = enrolled_at - interval '31 days'")
    run_loop(db_url, config, "winback")
    assert len(deliveries(db_url)) == 2 * n
    for d in deliveries(db_url):
        assert d["variant"] == first[d["user_id"]]
    # three plain users come back after their email: conversions split by variant
    plain = sorted((u for u, v in first.items() if v == "plain"), key=int)[:3]
    for uid in plain:
        act(db_url, int(uid), "login")
    pipeline(db_url, config)
    funnel = {r["variant"]: r for r in rows(db_url, "SELECT * FROM skene.loop_funnel")}
    assert set(funnel) == {None, "plain", "discount"}
    assert funnel[None]["sent"] == 2 * n
    assert funnel["plain"]["sent"] + funnel["discount"]["sent"] == 2 * n
    assert (funnel["plain"]["converted"], funnel["discount"]["converted"]) == (3, 0)


def test_schedule_runs_one_catch_up_firing_in_its_time_zone(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from skene_cdc.db import connect
    from skene_cdc.handlers.loops.plan import require_plans
    from skene_cdc.handlers.loops.schedule import LoopScheduler, next_fire, previous_fire

    config = loops_config(tmp_path, scheduled("hourly", "{type: dormant, days: 7}").replace(
        '"0 9 * * *"', '"0 9,12,15,18 * * *"'))
    established(db_url, config, days=400)  # registered before the slot
    [plan] = require_plans(config)
    winter, summer = datetime(2026, 1, 15, 10, 30, tzinfo=UTC), datetime(2026, 7, 15, 8, 30,
                                                                         tzinfo=UTC)
    assert previous_fire(plan, winter) == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 9:00 CET
    assert previous_fire(plan, summer) == datetime(2026, 7, 15, 7, 0, tzinfo=UTC)  # 9:00 CEST
    assert next_fire(plan, winter) == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)     # 12:00 CET
    scheduler = LoopScheduler(db_url, config, [plan], listener_id="t")
    with connect(db_url) as conn:
        assert scheduler.tick(conn, winter) == 1
        assert scheduler.tick(conn, winter) == 0              # the same firing never twice
        assert scheduler.tick(conn, winter + timedelta(days=3)) == 1  # down 3 days: one catch-up
        assert scheduler.tick(conn, winter + timedelta(days=3, minutes=5)) == 0
    fired = rows(db_url, "SELECT fire_time FROM skene.schedule_firings ORDER BY fire_time")
    assert [f["fire_time"] for f in fired] == [datetime(2026, 1, 15, 8, 0, tzinfo=UTC),
                                               datetime(2026, 1, 18, 8, 0, tzinfo=UTC)]
