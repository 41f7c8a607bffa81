"""Frequency caps and quiet hours, issue 14 section 3: a global cap across loops with the loop's
priority deciding which email waits, deferred not dropped (unless its loop can no longer credit
it), enforced in the database so two senders on their own connections never exceed it; quiet
hours on the user's clock, across DST changes."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from skene_cdc import status as status_mod
from skene_cdc.db import connect
from skene_cdc.handlers.email.quiet import release
from skene_cdc.migrations import runner
from tests.compliance_support import compliance_config
from tests.conftest import run_cli, wait_for
from tests.emailkit import (
    add_user,
    delivery,
    enqueue,
    fake_resend_fixture,  # noqa: F401 - the fake_resend fixture
    make_due,
    sender,
)
from tests.fakes.resend_server import FakeResend

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
NIGHT = (time(22), time(8))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("now, zone, window, expected", [
    # Spring forward in Berlin (31 March 2024, 02:00 CET -> 03:00 CEST): a night of 9.5 hours on
    # the wall clock is 8.5 real hours; 08:00 CEST is 06:00 UTC, not the 07:00 of "+9.5h".
    ("2024-03-30 21:30", BERLIN, NIGHT, "2024-03-31 06:00"),
    # Fall back (27 October 2024, 03:00 CEST -> 02:00 CET): 08:00 CET is 07:00 UTC.
    ("2024-10-26 22:30", BERLIN, NIGHT, "2024-10-27 07:00"),
    # After midnight, before the end: today's morning.
    ("2024-10-27 01:30", BERLIN, NIGHT, "2024-10-27 07:00"),
    # Outside the window: now.
    ("2024-03-31 06:00", BERLIN, NIGHT, None),
    ("2024-03-30 20:59", BERLIN, NIGHT, None),
    # New York springs forward on 10 March 2024: 07:00 EDT is 11:00 UTC.
    ("2024-03-10 05:00", NEW_YORK, (time(21), time(7)), "2024-03-10 11:00"),
    # A window that does not cross midnight.
    ("2024-06-01 10:30", BERLIN, (time(12), time(14)), "2024-06-01 12:00"),
    # An end inside the gap (02:30 does not exist on 31 March 2024 in Berlin): the jump at 03:00
    # CEST, 01:00 UTC.
    ("2024-03-30 23:30", BERLIN, (time(23), time(2, 30)), "2024-03-31 01:00"),
    # An end in the repeated hour (02:30 happens twice on 27 October 2024): the first one.
    ("2024-10-26 22:00", BERLIN, (time(23), time(2, 30)), "2024-10-27 00:30"),
])
def test_quiet_hours_follow_the_users_clock_across_dst(
        now: str, zone: ZoneInfo, window: tuple[time, time], expected: str | None) -> None:
    got = release(utc(now), zone, *window)
    assert got == (utc(expected) if expected else None)
    if got is not None:
        assert got.astimezone(zone).time() >= window[1] or expected == "2024-03-31 01:00"


QUIET = """\
  quiet_hours: {start: "22:00", end: "08:00", timezone: Asia/Tokyo}
"""


def test_quiet_hours_in_the_sender_use_each_users_zone(db_url: str, tmp_path: Path,
                                                       fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email=QUIET, timezone="tz")
    with psycopg.connect(db_url) as conn:
        conn.execute("ALTER TABLE users ADD COLUMN tz text")
    runner.migrate(db_url, cfg)  # skene.users gains the column
    people = [(1, "Europe/Berlin"), (2, "America/New_York"), (3, None), (4, "Mars/Olympus")]
    for uid, tz in people:
        add_user(db_url, uid, f"u{uid}@x.test", f"U{uid}")
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE users SET tz = %s WHERE id = %s", (tz, uid))
    ids = {uid: enqueue(db_url, str(uid), loop="digest", template="news") for uid, _ in people}
    receipt = enqueue(db_url, "1", loop="receipt", template="news")
    s = sender(db_url, cfg)
    # Saturday 30 March 2024, 22:30 UTC: 23:30 in Berlin (the night the clocks go forward),
    # 18:30 in New York, 07:30 on Sunday in Tokyo (the default zone).
    s.screen.clock = lambda: utc("2024-03-30 22:30")
    with connect(db_url) as conn:
        s.process_batch(conn)
    rows = {uid: delivery(db_url, did) for uid, did in ids.items()}
    assert [uid for uid, r in rows.items() if r["state"] == "sent"] == [2]
    assert delivery(db_url, receipt)["state"] == "sent", "transactional email has no quiet hours"
    waits = {uid: (r["state"], r["next_attempt_at"], r["attempts"]) for uid, r in rows.items()
             if uid != 2}
    assert waits == {1: ("pending", utc("2024-03-31 06:00"), 0),   # 08:00 CEST
                     3: ("pending", utc("2024-03-30 23:00"), 0),   # 08:00 JST
                     4: ("pending", utc("2024-03-30 23:00"), 0)}   # not a zone: the default
    assert rows[1]["deferred_reason"] == ("quiet hours 22:00-08:00 Europe/Berlin: waits until "
                                          "2024-03-31 08:00 CEST")
    assert rows[1]["deferrals"] == 1 and rows[1]["counted_at"] is None
    assert {e["to"][0] for e in fake_resend.emails} == {"u2@x.test", "u1@x.test"}
    # Morning in Berlin: it goes.
    s.screen.clock = lambda: utc("2024-03-31 06:00")
    with connect(db_url) as conn:
        s.process_batch(conn)
    assert delivery(db_url, ids[1])["state"] == "sent"


CAP = """\
  frequency: {max: 1, per: 24h}
"""


def test_the_cap_spans_loops_and_priority_decides_who_waits(db_url: str, tmp_path: Path,
                                                            fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email=CAP, tips_priority=10)
    add_user(db_url, 1, "ann@x.test", "Ann")
    digest = enqueue(db_url, "1", loop="digest", template="news")
    welcome = enqueue(db_url, "1", loop="welcome")
    tips = enqueue(db_url, "1", loop="tips", template="news")        # newest, but priority 10
    receipt = enqueue(db_url, "1", loop="receipt", template="news")  # transactional: not capped
    s = sender(db_url, cfg)
    assert s.drain() == 2
    assert [delivery(db_url, d)["state"] for d in (digest, welcome, tips, receipt)] == \
        ["pending", "pending", "sent", "sent"]
    slot = delivery(db_url, tips)["counted_at"]
    for d in (digest, welcome):
        row = delivery(db_url, d)
        assert row["next_attempt_at"] == slot + timedelta(hours=24)
        assert row["deferred_reason"].startswith("frequency cap 1 per 1d: waits until")
        assert (row["attempts"], row["last_error"], row["counted_at"]) == (0, None, None)
    assert delivery(db_url, receipt)["counted_at"] is None
    with connect(db_url, autocommit=True) as conn:
        by_state = {r["state"]: r for r in status_mod.collect(conn)["deliveries"]}
    assert (by_state["pending"]["n"], by_state["pending"]["deferred"]) == (2, 2)
    screen = run_cli("status", url=db_url, config_path=tmp_path / "skene.yaml").stdout
    assert "2 held by a frequency cap or quiet hours" in screen

    # A day later: the older of the two (same priority) goes, the other waits again.
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE skene.deliveries SET counted_at = counted_at - interval '25 hours'")
    make_due(db_url)
    assert s.drain() == 1
    assert [delivery(db_url, d)["state"] for d in (digest, welcome)] == ["sent", "pending"]
    assert delivery(db_url, welcome)["deferrals"] == 2


def test_several_caps_wait_for_the_strictest(db_url: str, tmp_path: Path,
                                             fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email="""\
  frequency:
    - {max: 1, per: 24h}
    - {max: 2, per: 7d}
""")
    add_user(db_url, 1, "ann@x.test", "Ann")
    first = enqueue(db_url, "1", loop="digest", template="news")
    s = sender(db_url, cfg)
    assert s.drain() == 1
    second = enqueue(db_url, "1", loop="digest", template="news", episode="2")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE skene.deliveries SET counted_at = now() - interval '3 days' "
                     "WHERE id = %s", (first,))
    assert s.drain() == 1
    third = enqueue(db_url, "1", loop="tips", template="news")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE skene.deliveries SET counted_at = now() - interval '2 days' "
                     "WHERE id = %s", (second,))
    assert s.drain() == 0
    row = delivery(db_url, third)
    # 24h allows it (the last was two days ago), 7d does not until the first leaves the week.
    assert row["next_attempt_at"] == delivery(db_url, first)["counted_at"] + timedelta(days=7)
    assert row["deferred_reason"].startswith("frequency cap 2 per 7d")


def test_held_past_its_goal_window_it_expires(db_url: str, tmp_path: Path,
                                              fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email="""\
  frequency: {max: 1, per: 7d}
""", digest_priority=5, tips_goal_window="1d")
    add_user(db_url, 1, "ann@x.test", "Ann")
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO skene.enrolments (loop, step, user_id, episode, state, sent_at)"
                     " VALUES ('tips', 0, '1', '1', 'sent', now())")
    digest = enqueue(db_url, "1", loop="digest", template="news")
    tips = enqueue(db_url, "1", loop="tips", template="news")
    assert sender(db_url, cfg).drain() == 1
    assert delivery(db_url, digest)["state"] == "sent"
    row = delivery(db_url, tips)
    assert row["state"] == "expired" and "past the loop's goal window" in row["last_error"]
    with psycopg.connect(db_url) as conn:
        state = conn.execute("SELECT state FROM skene.enrolments WHERE loop = 'tips'").fetchone()
    assert state == ("expired",)


def test_a_retry_keeps_its_slot_and_a_dead_email_frees_it(db_url: str, tmp_path: Path,
                                                          fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email=CAP)
    add_user(db_url, 1, "ann@x.test", "Ann")
    first = enqueue(db_url, "1", loop="digest", template="news")
    s = sender(db_url, cfg)
    fake_resend.fail(1, 500)
    assert s.drain() == 0
    assert delivery(db_url, first)["state"] == "pending"
    other = enqueue(db_url, "1", loop="tips", template="news")
    make_due(db_url)
    fake_resend.fail(1, 422)  # the retry fails for good
    assert s.drain() == 0
    assert delivery(db_url, first)["state"] == "dead"
    assert delivery(db_url, other)["state"] == "pending"
    make_due(db_url)
    assert s.drain() == 1 and delivery(db_url, other)["state"] == "sent"


def test_two_senders_on_their_own_connections_never_exceed_the_cap(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email=CAP)
    users = range(1, 41)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', 'U' "
                     "FROM generate_series(1, 40) g")
    # Each user's three emails are next to each other in the queue, so the two senders claim
    # different emails of the same user at the same moment.
    for uid in users:
        for loop in ("digest", "tips", "welcome"):
            enqueue(db_url, str(uid), loop=loop, template="welcome" if loop == "welcome"
                    else "news")
    senders = [sender(db_url, cfg, batch_size=1, concurrency=1) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(s: object) -> None:
        try:
            start.wait()
            s.drain()  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    per_user = Counter(e["to"][0] for e in fake_resend.emails)
    assert max(per_user.values()) == 1, [u for u, n in per_user.items() if n > 1]
    assert len(per_user) == 40, "every user got exactly one email"
    assert sum(s.sent for s in senders) == 40 and all(s.sent for s in senders)
    with psycopg.connect(db_url) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM skene.deliveries "
                                   "GROUP BY state").fetchall())
    assert states == {"sent": 40, "pending": 80}


def test_a_slot_is_counted_and_taken_under_a_per_user_lock(db_url: str, tmp_path: Path) -> None:
    """The interleaving that only the lock catches: sender A has counted and taken the user's
    last slot for an email (not committed yet) when a higher-priority email arrives, which A
    never saw; sender B claims it. B must wait for A and then see the slot taken, not rank its
    email first among what it can see and send it too."""
    from skene_cdc import sql
    from skene_cdc.handlers.email.pacing import Screen

    cfg = compliance_config(tmp_path, email=CAP, tips_priority=10)
    add_user(db_url, 1, "ann@x.test", "Ann")
    first = enqueue(db_url, "1", loop="digest", template="news")
    claim = {"limit": 1, "lease": 300, "owner": 0}
    with connect(db_url) as a:
        rows = a.execute(sql.load("email/claim_due"), claim).fetchall()
        assert Screen(cfg).apply(a, rows) == {}  # A takes the slot, still uncommitted
        urgent = enqueue(db_url, "1", loop="tips", template="news")
        done = threading.Event()
        held: dict[int, object] = {}

        def sender_b() -> None:
            with connect(db_url) as b:
                claimed = b.execute(sql.load("email/claim_due"), claim).fetchall()
                assert [r["id"] for r in claimed] == [urgent]
                held.update(Screen(cfg).apply(b, claimed))
                b.commit()
            done.set()

        thread = threading.Thread(target=sender_b)
        thread.start()
        wait_for(lambda: done.is_set() or waiting_on_a_lock(db_url), what="B to wait or finish")
        a.commit()
        thread.join(30)
    assert list(held) == [urgent]
    assert delivery(db_url, first)["counted_at"] is not None
    row = delivery(db_url, urgent)
    assert (row["state"], row["counted_at"]) == ("pending", None)
    assert row["deferred_reason"].startswith("frequency cap 1 per 1d")


def waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND wait_event_type = 'Lock'").fetchone()
    return bool(row and row[0])
