"""The smtp provider against a real SMTP server (a local sink): message shape, Message-ID from
the idempotency key, 4xx retried, 5xx dead, and the password never in an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emailkit import add_user, delivery, email_config, enqueue, make_due, sender
from tests.fakes.smtp_sink import SmtpSink


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    with SmtpSink(username="mailer", password="pa:ss w0rd") as s:
        monkeypatch.setenv("SMTP_URL", s.url("mailer:pa%3Ass%20w0rd@"))
        yield s


def test_smtp_sends_multipart_with_stable_message_id(db_url: str, tmp_path: Path,
                                                     sink: SmtpSink) -> None:
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider="smtp")
    assert sender(db_url, cfg).drain() == 1
    [msg] = sink.messages
    row = delivery(db_url, did)
    assert msg["Message-ID"] == f"<{row['idempotency_key']}@acme.test>"
    assert row["provider_message_id"] == msg["Message-ID"] and row["state"] == "sent"
    assert (msg["From"], msg["To"], msg["Subject"]) == ("Acme <hello@acme.test>", "ann@x.test",
                                                        "Welcome aboard, Ann")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == "Hi Ann, your first project is live.\n"
    assert html.get_content() == "<p>Hi Ann, your first project is live.</p>\n"
    assert sink.envelopes == [("hello@acme.test", ["ann@x.test"])]


def test_smtp_4xx_is_retried_5xx_is_dead(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider="smtp")
    sink.fail_next = ["451 try again later"]
    s = sender(db_url, cfg)
    s.drain()
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("pending", 1) and "smtp 451" in row["last_error"]
    make_due(db_url)
    assert s.drain() == 1 and len(sink.messages) == 1
    other = enqueue(db_url, "1", provider="smtp", episode="2")
    sink.fail_next = ["550 no such mailbox"]
    s.drain()
    row = delivery(db_url, other)
    assert (row["state"], row["attempts"]) == ("dead", 1) and "smtp 550" in row["last_error"]


def test_smtp_wrong_password_is_reported_without_it(db_url: str, tmp_path: Path,
                                                   sink: SmtpSink,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", sink.url("mailer:Wr0ngSecretPw@"))
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider="smtp")
    sender(db_url, cfg).drain()
    row = delivery(db_url, did)
    assert row["state"] == "dead" and "smtp 535" in row["last_error"]
    assert "Wr0ngSecretPw" not in row["last_error"] and not sink.messages
