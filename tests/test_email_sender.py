"""The sender against real PostgreSQL and a local HTTP server speaking Resend's API, through the
real `resend` SDK: sent once, retried with backoff, 429 honoured, parked dead, rendered once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from skene_cdc.handlers import outbox
from tests.conftest import run_cli, wait_for
from tests.emailkit import (
    API_KEY,
    add_user,
    delivery,
    email_config,
    enqueue,
    fake_resend_fixture,  # noqa: F401 - the fake_resend fixture
    make_due,
    sender,
)
from tests.fakes.resend_server import FakeResend


def test_pending_delivery_is_sent_once(db_url: str, tmp_path: Path, fake_resend: FakeResend
                                       ) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO skene.enrolments (loop, user_id, episode, state) "
                     "VALUES ('welcome', '1', '1', 'met')")
    did = enqueue(db_url, "1")
    s = sender(db_url, cfg)
    assert s.drain() == 1
    assert s.drain() == 0

    [req] = fake_resend.requests
    assert req.path == "/emails"
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.idempotency_key == outbox.idempotency_key("welcome", "1", 1, "1")
    assert req.body == {"from": "Acme <hello@acme.test>", "to": ["ann@x.test"],
                        "subject": "Welcome aboard, Ann",
                        "html": "<p>Hi Ann, your first project is live.</p>\n",
                        "text": "Hi Ann, your first project is live.\n",
                        # No email.unsubscribe in this config: the mailto: fallback.
                        "headers": {"List-Unsubscribe":
                                    "<mailto:hello@acme.test?subject=unsubscribe>"}}
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 1, None)
    assert row["provider_message_id"] == fake_resend.emails[0]["id"]
    assert row["rendered"]["subject"] == "Welcome aboard, Ann"
    assert "html" not in row["rendered"], "the body is dropped once sent"
    with psycopg.connect(db_url) as conn:
        enrol = conn.execute("SELECT state, sent_at IS NOT NULL FROM skene.enrolments").fetchone()
        log = conn.execute("SELECT state, subject FROM skene.delivery_log").fetchall()
    assert enrol == ("sent", True)
    assert log == [("sent", "Welcome aboard, Ann")]


def test_context_from_the_engine_is_rendered(db_url: str, tmp_path: Path,
                                             fake_resend: FakeResend) -> None:
    """The loop's decision (condition columns, event, personalization) reaches the template;
    the user's current skene.users row fills in the rest."""
    cfg = email_config(tmp_path, templates={"re.html": (
        '---\nsubject: "We miss you, {{ first }}"\n---\n'
        "<p>Your last {{ user.last_event }} was {{ user.days }} days ago; {{ event.event }}</p>\n")})
    add_user(db_url, 7, "bo@x.test", "Bo")
    context = {"user": {"user_id": "7", "days": 8, "last_event": "export"},
               "event": {"event": "nudge"},
               "personalization": {"first": "{{ user.name | upper }}"}}
    enqueue(db_url, "7", template="re", context=context)
    assert sender(db_url, cfg).drain() == 1
    [email] = fake_resend.emails
    assert email["subject"] == "We miss you, BO"
    assert email["html"] == "<p>Your last export was 8 days ago; nudge</p>\n"
    assert "text" not in email


def test_full_user_row_in_context_is_used_as_decided(db_url: str, tmp_path: Path,
                                                     fake_resend: FakeResend) -> None:
    """A loop stores the condition's row joined with skene.users: that is what is rendered, even
    for a user no longer in the app's table."""
    cfg = email_config(tmp_path)
    enqueue(db_url, "99", context={"user": {"user_id": "99", "email": "gone@x.test",
                                            "name": "Gwen"}, "event": None})
    assert sender(db_url, cfg).drain() == 1
    [email] = fake_resend.emails
    assert (email["to"], email["subject"]) == (["gone@x.test"], "Welcome aboard, Gwen")


def test_500_twice_then_200_is_one_email_three_attempts_with_backoff(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", retries=3, base_delay=10)
    fake_resend.fail(2, 500)
    s = sender(db_url, cfg)
    waits = []
    for attempt in (1, 2):
        assert s.drain() == 0
        row = delivery(db_url, did)
        assert (row["state"], row["attempts"]) == ("pending", attempt)
        assert "resend 500" in row["last_error"]
        waits.append((row["next_attempt_at"] - row["updated_at"]).total_seconds())
        make_due(db_url)
    # exponential from 10s, plus up to 20% jitter: 10..12s, then 20..24s
    assert 10 <= waits[0] <= 12 and 20 <= waits[1] <= 24, waits
    assert s.drain() == 1
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert len(fake_resend.requests) == 3 and len(fake_resend.emails) == 1
    assert {r.idempotency_key for r in fake_resend.requests} == {row["idempotency_key"]}


def test_linear_and_fixed_backoff(db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    lin = enqueue(db_url, "1", episode="lin", backoff="linear", base_delay=100)
    fix = enqueue(db_url, "1", episode="fix", backoff="fixed", base_delay=100)
    fake_resend.always(503)
    s = sender(db_url, cfg)
    seen: dict[int, list[float]] = {lin: [], fix: []}
    for _ in range(2):
        s.drain()
        for did in seen:
            row = delivery(db_url, did)
            seen[did].append((row["next_attempt_at"] - row["updated_at"]).total_seconds())
        make_due(db_url)
    assert 100 <= seen[lin][0] <= 120 and 200 <= seen[lin][1] <= 240, seen
    assert all(100 <= w <= 120 for w in seen[fix]), seen


def test_429_retry_after_is_honoured_and_refunds_the_attempt(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    add_user(db_url, 2, "bob@x.test", "Bob")
    first = enqueue(db_url, "1", base_delay=1)
    second = enqueue(db_url, "2", base_delay=1)
    fake_resend.rate_limit(retry_after=30)
    s = sender(db_url, cfg, concurrency=1)
    assert s.drain() == 0
    for did in (first, second):
        row = delivery(db_url, did)
        assert row["state"] == "pending" and row["attempts"] == 0, row
        assert row["next_attempt_at"] >= row["updated_at"] + timedelta(seconds=29.9), row
    # The second was never tried: the sender held back once the provider said 429.
    assert len(fake_resend.requests) == 1
    make_due(db_url)
    assert sender(db_url, cfg).drain() == 2  # a fresh process does not remember the 429
    assert len(fake_resend.emails) == 2


def test_always_500_is_dead_after_retries_and_visible(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", retries=2, base_delay=1)
    fake_resend.always(500)
    s = sender(db_url, cfg)
    for _ in range(5):
        s.drain()
        make_due(db_url)
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("dead", 3)
    assert len(fake_resend.requests) == 3 and not fake_resend.emails
    with psycopg.connect(db_url) as conn:
        view = conn.execute("SELECT state, last_error FROM skene.delivery_log").fetchone()
    assert view is not None and view[0] == "dead" and "resend 500" in str(view[1])
    cfg_path = tmp_path / "skene.yaml"
    out = run_cli("status", url=db_url, config_path=cfg_path).stdout
    assert "deliveries" in out and "dead" in out and "resend 500" in out
    report = json.loads(run_cli("status", "--json", url=db_url, config_path=cfg_path).stdout)
    [dead] = report["deliveries"]
    assert (dead["state"], dead["n"]) == ("dead", 1) and "resend 500" in dead["last_error"]
    assert report["delivery_errors"][0]["id"] == did
    assert API_KEY not in out


def test_permanent_4xx_is_dead_at_once(db_url: str, tmp_path: Path, fake_resend: FakeResend
                                       ) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", retries=5)
    fake_resend.always(422)
    sender(db_url, cfg).drain()
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("dead", 1) and "resend 422" in row["last_error"]


def test_retry_resends_the_first_render(db_url: str, tmp_path: Path, fake_resend: FakeResend
                                        ) -> None:
    """With the same idempotency key, a provider refuses a different body (409): a user renamed
    between two attempts must not change what the retry sends."""
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    fake_resend.fail(1, 502)
    s = sender(db_url, cfg)
    s.drain()
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE users SET name = 'Annabel' WHERE id = 1")
    make_due(db_url)
    assert s.drain() == 1
    bodies = [r.body for r in fake_resend.requests]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert fake_resend.emails[0]["subject"] == "Welcome aboard, Ann"
    assert delivery(db_url, did)["state"] == "sent"


def test_template_problem_at_send_time_fails_loudly(db_url: str, tmp_path: Path,
                                                    fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path, templates={
        "typo.html": '---\nsubject: "Hi"\n---\n<p>Hi {{ user.nickname }},</p>\n',
        "plain.html": '---\nsubject: "Hi"\n---\n<p>Hi {{ user.name }},</p>\n'})
    add_user(db_url, 1, "ann@x.test", "Ann")
    add_user(db_url, 2, "nameless@x.test", None)
    typo = enqueue(db_url, "1", template="typo", loop="other")
    nameless = enqueue(db_url, "2", template="plain", loop="other")
    assert sender(db_url, cfg).drain() == 0
    assert fake_resend.requests == [], "nothing may be sent"
    row = delivery(db_url, typo)
    assert row["state"] == "dead" and row["attempts"] == 1
    assert "typo.html:4" in row["last_error"] and "nickname" in row["last_error"]
    row = delivery(db_url, nameless)
    assert row["state"] == "dead" and "plain.html:4" in row["last_error"]
    assert "NULL" in row["last_error"]


def test_unknown_provider_on_a_delivery_is_dead(db_url: str, tmp_path: Path,
                                                fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider="mailgun")
    sender(db_url, cfg).drain()
    row = delivery(db_url, did)
    assert row["state"] == "dead" and "unknown email provider 'mailgun'" in row["last_error"]
    assert fake_resend.requests == []


def test_lease_expired_row_is_retried_with_the_same_key(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    """In-process version of the crash: a row left 'sending' by a dead sender."""
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    # The first sender claims, renders and the provider accepts, then it "dies" before recording.
    s = sender(db_url, cfg)
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        outcomes, ready = s._claim(conn)
        for job in ready:
            s._send(*job)
    assert len(fake_resend.emails) == 1
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("sending", 1)
    assert sender(db_url, cfg).drain() == 0, "a live lease keeps others off"
    make_due(db_url)  # the lease runs out
    assert sender(db_url, cfg).drain() == 1
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    assert [r.replayed for r in fake_resend.requests] == [False, True]
    assert len(fake_resend.emails) == 1
    assert row["provider_message_id"] == fake_resend.emails[0]["id"]


def test_a_dead_senders_claim_is_taken_over_at_once(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    """kill -9 mid-send leaves rows 'sending' under a 5-minute lease; the sender's session lock
    is gone with its connection, and that is enough for another sender to take over now."""
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    s = sender(db_url, cfg, lease=300)
    alive = psycopg.connect(db_url, autocommit=True, row_factory=psycopg.rows.dict_row)
    s._hold_owner(alive)  # noqa: SLF001 - what _run does on each session
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        _, ready = s._claim(conn)  # noqa: SLF001
        for job in ready:
            s._send(*job)  # noqa: SLF001 - the provider accepted; "killed" before recording
    assert delivery(db_url, did)["state"] == "sending"
    assert sender(db_url, cfg).drain() == 0, "its sender is alive: nobody else touches it"
    alive.close()  # what the death of the process does to its session
    assert sender(db_url, cfg).drain() == 1, "taken over without waiting for the lease"
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    assert [r.replayed for r in fake_resend.requests] == [False, True]
    assert len(fake_resend.emails) == 1


def test_senders_that_keep_dying_park_the_row(db_url: str, tmp_path: Path,
                                              fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", retries=0)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE skene.deliveries SET state = 'sending', attempts = 3")
    make_due(db_url)
    assert sender(db_url, cfg).drain() == 0
    row = delivery(db_url, did)
    assert row["state"] == "dead" and "stopped while sending" in row["last_error"]


def test_two_senders_in_threads_send_each_once(db_url: str, tmp_path: Path,
                                               fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'U' || g FROM generate_series(1, 60) g")
    for uid in range(1, 61):
        enqueue(db_url, str(uid))
    fake_resend.delay = 0.005
    senders = [sender(db_url, cfg, batch_size=4, concurrency=2) for _ in range(2)]
    threads = [threading.Thread(target=s.drain) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(s.sent for s in senders) == 60
    assert all(s.sent > 0 for s in senders), "both senders should have taken part"
    counts = fake_resend.sends_per_key()
    assert len(counts) == 60 and set(counts.values()) == {1}


def test_sender_wakes_on_enqueue_not_on_poll(db_url: str, tmp_path: Path,
                                             fake_resend: FakeResend) -> None:
    cfg = email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    s = sender(db_url, cfg, poll_interval=120)
    stop = threading.Event()
    t = threading.Thread(target=s.run, args=(stop,))
    t.start()
    try:
        wait_for(lambda: _listening(db_url), what="the sender to LISTEN")
        enqueue(db_url, "1")
        # Well inside the 120 s poll interval: only the NOTIFY can have woken it.
        wait_for(lambda: len(fake_resend.emails) == 1, timeout=20, what="the email")
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive()


def _listening(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND query LIKE 'LISTEN skene_deliveries%%'"
                           ).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("provider", ["console"])
def test_console_provider_prints_the_email(db_url: str, tmp_path: Path, provider: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cfg = email_config(tmp_path, provider=provider)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider=provider)
    assert sender(db_url, cfg).drain() == 1
    out = capsys.readouterr().out
    assert "To: ann@x.test" in out and "Subject: Welcome aboard, Ann" in out
    assert "Hi Ann, your first project is live." in out
    assert delivery(db_url, did)["state"] == "sent"
