"""Resend's webhooks, issue 14 section 2: verified with their Svix signatures (a bad or old one is
refused and changes nothing), kept once per event id, linked to the delivery; hard bounces and
complaints suppress the address; engagement lands in skene.events (source `resend`). Plus
`skene-cdc serve` answering all of it as a process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from skene_cdc.config import Config
from skene_cdc.web.app import skene_app
from skene_cdc.web.resend import ResendWebhookApp
from tests.compliance_support import (
    RESEND_SECRET,
    compliance_config,
    resend_event,
    suppressions,
    svix_headers,
)
from tests.conftest import cli_env, consume, scalar
from tests.emailkit import (
    add_user,
    delivery,
    enqueue,
    fake_resend_fixture,  # noqa: F401 - the fake_resend fixture
    sender,
)
from tests.fakes.resend_server import FakeResend
from tests.loops_support import pipeline
from tests.pgcluster import free_port

WEBHOOK = f"""\
  resend:
    webhook_secret: {RESEND_SECRET}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return compliance_config(tmp_path, provider="resend", email=WEBHOOK)


def sent_email(url: str, cfg: Config, fake: FakeResend, user: int = 1,
               address: str = "ann@x.test", episode: str = "1") -> tuple[int, str]:
    """A delivery the sender really sent through the fake Resend: (delivery id, Resend's id)."""
    if scalar(url, "SELECT count(*) FROM users WHERE id = %s", (user,)) == 0:
        add_user(url, user, address, "Ann")
    did = enqueue(url, str(user), loop="digest", template="news", episode=episode)
    assert sender(url, cfg).drain() == 1
    return did, str(delivery(url, did)["provider_message_id"])


def post(app: ResendWebhookApp, body: bytes, msg_id: str = "msg_1",
         **kw: Any) -> tuple[int, dict[str, Any]]:
    headers: dict[str, str | None] = dict(svix_headers(body, msg_id=msg_id, **kw))
    return app.handle(body, headers)


def rows(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_hard_bounce_suppresses_the_address_for_all_growth_email(
        db_url: str, cfg: Config, fake_resend: FakeResend) -> None:
    app = ResendWebhookApp(cfg, db_url)
    did, email_id = sent_email(db_url, cfg, fake_resend)
    status, body = post(app, resend_event("email.bounced", email_id, bounce={
        "type": "Permanent", "subType": "General", "message": "mailbox does not exist"}))
    assert status == 200, body
    assert (body["delivery_id"], body["user_id"], body["suppressed"]) == (did, "1", ["ann@x.test"])
    [s] = suppressions(db_url)
    assert (s["address"], s["user_id"], s["scope"], s["reason"], s["source"], s["delivery_id"]) \
        == ("ann@x.test", None, "all", "bounce", "resend", did)
    assert "mailbox does not exist" in s["detail"]
    # The next growth email to that address is never sent, whichever loop it comes from.
    later = enqueue(db_url, "1", loop="tips", template="news")
    assert sender(db_url, cfg).drain() == 0
    assert delivery(db_url, later)["state"] == "suppressed"
    assert "bounced" in delivery(db_url, later)["last_error"]
    assert len(fake_resend.emails) == 1
    # ... but a transactional one still is.
    receipt = enqueue(db_url, "1", loop="receipt", template="news")
    assert sender(db_url, cfg).drain() == 1 and delivery(db_url, receipt)["state"] == "sent"


def test_soft_bounce_and_delivery_delays_suppress_nothing(db_url: str, cfg: Config,
                                                         fake_resend: FakeResend) -> None:
    app = ResendWebhookApp(cfg, db_url)
    _, email_id = sent_email(db_url, cfg, fake_resend)
    assert post(app, resend_event("email.bounced", email_id, bounce={
        "type": "Transient", "subType": "MailboxFull", "message": "full"}), "m1")[0] == 200
    assert post(app, resend_event("email.delivery_delayed", email_id), "m2")[0] == 200
    assert suppressions(db_url) == []


def test_complaint_suppresses_even_for_mail_skene_did_not_send(db_url: str, cfg: Config) -> None:
    app = ResendWebhookApp(cfg, db_url)
    status, body = post(app, resend_event("email.complained", "not-ours", to="Bo <Bo@X.test>"))
    assert status == 200 and body["delivery_id"] is None
    [s] = suppressions(db_url)
    assert (s["address"], s["reason"]) == ("bo@x.test", "complaint")
    assert rows(db_url, "SELECT id, delivery_id, address FROM skene.resend_events") == \
        [("msg_1", None, "bo@x.test")]


def test_engagement_lands_in_events_once_per_event_id(db_url: str, cfg: Config,
                                                      fake_resend: FakeResend) -> None:
    app = ResendWebhookApp(cfg, db_url)
    did, email_id = sent_email(db_url, cfg, fake_resend)
    opened = resend_event("email.opened", email_id)
    clicked = resend_event("email.clicked", email_id, click={
        "link": "https://app.acme.test/projects", "ipAddress": "203.0.113.9",
        "timestamp": "2026-01-05T10:01:00.000Z", "userAgent": "Mail"})
    for _ in range(3):  # Resend retries until it gets a 2xx: a redelivery is a no-op
        assert post(app, opened, "msg_open")[0] == 200
    status, body = post(app, opened, "msg_open")
    assert body["duplicate"] is True
    assert post(app, clicked, "msg_click")[0] == 200
    assert scalar(db_url, "SELECT count(*) FROM skene.resend_events") == 2
    consume(db_url, cfg)
    events = rows(db_url, "SELECT source, user_id, event, activity, data FROM skene.events "
                          "WHERE source = 'resend' ORDER BY event")
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [
        ("resend", "1", "email.clicked", False), ("resend", "1", "email.opened", False)]
    click, opened_data = events[0][4], events[1][4]
    assert (opened_data["delivery_id"], opened_data["loop"], opened_data["template"]) == \
        (did, "digest", "news")
    assert click["click"]["link"] == "https://app.acme.test/projects"
    # Opening an email is not activity: nobody "came back" by reading it.
    assert scalar(db_url, "SELECT count(*) FROM skene.user_activity") == 0


def test_bad_or_old_signatures_are_refused_and_change_nothing(db_url: str, cfg: Config) -> None:
    app = ResendWebhookApp(cfg, db_url)
    body = resend_event("email.complained", "e1")
    good = svix_headers(body)
    forged = svix_headers(body, "whsec_" + "QUJD" * 8)
    tampered = resend_event("email.complained", "e1", to="victim@x.test")
    cases: list[tuple[bytes, dict[str, str | None]]] = [
        (body, {**good, "svix-signature": forged["svix-signature"]}),   # another key
        (tampered, dict(good)),                                         # body changed
        (body, {**good, "svix-id": "msg_2"}),                           # id changed
        (body, dict(svix_headers(body, at=int(time.time()) - 600))),    # ten minutes old
        (body, dict(svix_headers(body, at=int(time.time()) + 600))),    # from the future
        (body, {**good, "svix-signature": None}),
        (body, {k: None for k in good}),
        (b"\xff\xfe", dict(svix_headers(b"\xff\xfe"))),
    ]
    for payload, headers in cases:
        status, answer = app.handle(payload, headers)
        assert status == 400 and "signature" in answer["error"], (headers, answer)
    assert suppressions(db_url) == []
    assert scalar(db_url, "SELECT count(*) FROM skene.resend_events") == 0
    # Signed but not an event: refused as malformed, nothing stored.
    for junk in (b"[]", b'{"type": "email.opened"}', b'{"data": {}}'):
        status, answer = app.handle(junk, dict(svix_headers(junk)))
        assert status == 400 and answer["error"].startswith("malformed event"), answer
    assert scalar(db_url, "SELECT count(*) FROM skene.resend_events") == 0


def test_serve_answers_unsubscribe_and_resend_as_a_process(db_url: str, tmp_path: Path) -> None:
    compliance_config(tmp_path, email=WEBHOOK + """\
  unsubscribe:
    url: https://app.acme.test/skene/unsubscribe
""")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skene_cdc", "serve", "--port", str(port)], text=True,
        env=cli_env(db_url, tmp_path / "skene.yaml", SKENE_UNSUBSCRIBE_SECRET="p" * 40),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        body = resend_event("email.complained", "e1")
        r = httpx.post(f"{base}/resend/webhook", content=body, headers=svix_headers(body))
        assert r.status_code == 200, r.text
        bad = httpx.post(f"{base}/resend/webhook", content=body,
                         headers={**svix_headers(body), "svix-signature": "v1,AAAA"})
        assert bad.status_code == 400
        assert httpx.get(f"{base}/unsubscribe?token=nope").status_code == 400
        assert httpx.post(f"{base}/stripe/webhook").status_code == 404  # no stripe: configured
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "serving http://127.0.0.1" in err and "/resend/webhook" in err
    assert [s["reason"] for s in suppressions(db_url)] == ["complaint"]


def test_serve_without_any_endpoint_says_what_to_configure(db_url: str, tmp_path: Path) -> None:
    compliance_config(tmp_path, email="")
    with pytest.raises(Exception, match="configures nothing to serve"):
        skene_app(tmp_path / "skene.yaml", db_url)
    proc = subprocess.run([sys.executable, "-m", "skene_cdc", "serve"], capture_output=True,
                          text=True, env=cli_env(db_url, tmp_path / "skene.yaml"), timeout=60)
    assert proc.returncode == 2 and "email.unsubscribe" in proc.stderr
    assert "Traceback" not in proc.stderr


CLICKED_LOOP = """\
  - name: clicked
    type: activation
    steps:
      - trigger: {type: event, event: email.clicked}
        condition:
          type: query
          query: >-
            SELECT e.user_id, e.data ->> 'template' AS clicked_template FROM skene.events e
            WHERE e.user_id = $1 AND e.source = 'resend' AND e.event = 'email.clicked'
        action: {type: email, template: welcome}
"""


def test_a_loop_can_act_on_engagement(db_url: str, tmp_path: Path,
                                      fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend", email=WEBHOOK, top=CLICKED_LOOP)
    app = ResendWebhookApp(cfg, db_url)
    _, email_id = sent_email(db_url, cfg, fake_resend)
    assert post(app, resend_event("email.clicked", email_id, click={"link": "https://x"}))[0] \
        == 200
    pipeline(db_url, cfg)
    [row] = rows(db_url, "SELECT user_id, template, context -> 'user' ->> 'clicked_template' "
                         "FROM skene.deliveries WHERE loop = 'clicked'")
    assert row == ("1", "welcome", "news")
