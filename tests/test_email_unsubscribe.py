"""One-click unsubscribe (RFC 8058), issue 14 section 1: the headers and link on what the SMTP
server and the Resend API really receive, the signed token (forged, altered, expired: refused),
the endpoint (GET confirms, POST records), and opt-outs checked when the loop decides and again
when the sender claims the email."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from skene_cdc.handlers.email.unsubscribe import InvalidToken, sign, verify
from skene_cdc.web.app import skene_app
from tests.compliance_support import (
    UNSUBSCRIBE_SECRET,
    compliance_config,
    suppressions,
)
from tests.conftest import consume, run_cli
from tests.emailkit import (
    add_user,
    delivery,
    enqueue,
    fake_resend_fixture,  # noqa: F401 - the fake_resend fixture
    sender,
)
from tests.fakes.resend_server import FakeResend
from tests.fakes.smtp_sink import SmtpSink
from tests.freemium_support import serve
from tests.loops_support import RETENTION, act, add_users, enrolments, loops_config, run_loop

KEY = UNSUBSCRIBE_SECRET.encode()


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        monkeypatch.setenv("SMTP_URL", s.url())
        yield s


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_tokens_cannot_be_forged_altered_or_stretched() -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    token = sign(KEY, "42", "all", soon)
    grant = verify(KEY, token)
    assert (grant.user_id, grant.scope, grant.loop) == ("42", "all", None)
    assert verify(KEY, sign(KEY, "42", "loop:digest", soon)).loop == "digest"

    payload, mac = token.split(".")
    other = sign(KEY, "43", "all", soon).split(".")[0]
    forged = [
        f"{other}.{mac}",                                   # someone else's user id, my signature
        sign(KEY, "42", "all", soon + timedelta(days=400)).split(".")[0] + "." + mac,  # stretched
        sign(b"another key of the same length......", "42", "all", soon),   # wrong key
        payload,                                            # no signature
        f"{payload}.{mac[:-2]}",                            # truncated signature
        "not-a-token", "", "." * 3000,
    ]
    for bad in forged:
        with pytest.raises(InvalidToken):
            verify(KEY, bad)
    expired = sign(KEY, "42", "all", datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(InvalidToken, match="expired"):
        verify(KEY, expired)


def test_smtp_email_carries_one_click_headers_and_the_same_link(db_url: str, tmp_path: Path,
                                                                sink: SmtpSink) -> None:
    cfg = compliance_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", loop="digest", template="news", provider="smtp")
    assert sender(db_url, cfg).drain() == 1
    [msg] = sink.messages
    header = msg["List-Unsubscribe"]
    match = re.fullmatch(r"<(https://app\.acme\.test/skene/unsubscribe\?token=[^>]+)>, "
                         r"<mailto:unsubscribe@acme\.test\?subject=unsubscribe>", header)
    assert match, header
    url = match.group(1)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    assert f"Unsubscribe: {url}\n" in text.get_content()
    assert f'<a href="{url.replace("&", "&amp;")}">Unsubscribe</a>' in html.get_content()
    grant = verify(KEY, token_of(url))
    assert (grant.user_id, grant.scope) == ("1", "all")
    assert grant.expires_at > datetime.now(UTC) + timedelta(days=89)
    # The render is stored with its headers: a retry re-sends exactly these bytes.
    assert delivery(db_url, did)["rendered"]["headers"]["List-Unsubscribe"] == header


def test_resend_request_carries_the_headers(db_url: str, tmp_path: Path,
                                            fake_resend: FakeResend) -> None:
    cfg = compliance_config(tmp_path, provider="resend")
    add_user(db_url, 1, "ann@x.test", "Ann")
    enqueue(db_url, "1", loop="digest", template="news", provider="resend")
    assert sender(db_url, cfg).drain() == 1
    [req] = fake_resend.requests
    headers = req.body["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.match(r"<([^>]+)>", headers["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    assert url in req.body["html"] and url in req.body["text"]
    assert verify(KEY, token_of(url)).user_id == "1"


def test_transactional_loop_gets_no_list_unsubscribe(db_url: str, tmp_path: Path,
                                                     sink: SmtpSink) -> None:
    cfg = compliance_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    enqueue(db_url, "1", loop="receipt", template="news", provider="smtp")
    assert sender(db_url, cfg).drain() == 1
    [msg] = sink.messages
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None


def test_without_an_endpoint_the_link_falls_back_to_mailto(db_url: str, tmp_path: Path,
                                                           sink: SmtpSink) -> None:
    cfg = compliance_config(tmp_path, provider="smtp", email="")
    add_user(db_url, 1, "ann@x.test", "Ann")
    enqueue(db_url, "1", loop="digest", template="news", provider="smtp")
    assert sender(db_url, cfg).drain() == 1
    [msg] = sink.messages
    assert msg["List-Unsubscribe"] == "<mailto:hello@acme.test?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None  # not one-click: nothing would answer a POST
    text = msg.get_body(("plain",))
    assert text is not None
    assert "Unsubscribe: mailto:hello@acme.test?subject=unsubscribe" in text.get_content()


@contextmanager
def http(app: Any) -> Iterator[httpx.Client]:
    """The app behind a real uvicorn server, and a client for it."""
    with serve(app) as base, httpx.Client(base_url=base) as c:
        yield c


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with http(skene_app(compliance_config(tmp_path), db_url)) as c:
        yield c


def link(user: str = "1", scope: str = "all", days: float = 1) -> str:
    return f"/unsubscribe?token={sign(KEY, user, scope, datetime.now(UTC) + timedelta(days=days))}"


def test_get_confirms_and_post_records_the_opt_out(db_url: str, client: httpx.Client) -> None:
    page = client.get(link())
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert 'method="post"' in page.text
    assert suppressions(db_url) == [], "a GET (a link scanner, a preview) changes nothing"

    one_click = client.post(link(), content=b"List-Unsubscribe=One-Click",
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "unsubscribed" in one_click.text
    [row] = suppressions(db_url)
    assert (row["user_id"], row["address"], row["scope"], row["reason"], row["source"]) == \
        ("1", None, "all", "unsubscribe", "one-click")
    again = client.post(link())
    assert again.status_code == 200 and len(suppressions(db_url)) == 1


def test_forged_or_expired_links_are_refused(db_url: str, client: httpx.Client) -> None:
    payload, mac = link("1")[len("/unsubscribe?token="):].split(".")
    other = link("2")[len("/unsubscribe?token="):].split(".")[0]
    for bad in (f"/unsubscribe?token={other}.{mac}",           # user 2 with user 1's signature
                "/unsubscribe?token=" + sign(b"x" * 40, "2", "all",
                                             datetime.now(UTC) + timedelta(days=1)),
                link("2", days=-1),                            # expired
                "/unsubscribe?token=", "/unsubscribe"):
        for method in ("GET", "POST"):
            r = client.request(method, bad, content=b"List-Unsubscribe=One-Click")
            assert r.status_code == 400, (method, bad)
            assert "not valid or has expired" in r.text
    assert suppressions(db_url) == []


def test_a_loop_link_opts_out_of_that_loop_and_the_page_can_widen_it(
        db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    cfg = compliance_config(tmp_path, email=UNSUBSCRIBE_LOOP)
    add_user(db_url, 1, "ann@x.test", "Ann")
    add_user(db_url, 2, "bo@x.test", "Bo")
    enqueue(db_url, "1", loop="digest", template="news", provider="smtp")
    s = sender(db_url, cfg)
    assert s.drain() == 1
    url = re.match(r"<([^>]+)>", sink.messages[0]["List-Unsubscribe"]).group(1)  # type: ignore
    assert verify(KEY, token_of(url)).scope == "loop:digest"
    with http(skene_app(cfg, db_url)) as c:
        assert c.post(urlsplit(url).path.removeprefix("/skene") + "?" + urlsplit(url).query,
                      content=b"List-Unsubscribe=One-Click").status_code == 200
        page = c.get(link("2", "loop:digest"))
        assert "Unsubscribe from all of them" in page.text
        assert c.post(link("2", "loop:digest"), data={"scope": "all"}).status_code == 200
    assert [(r["user_id"], r["scope"], r["source"]) for r in suppressions(db_url)] == \
        [("1", "loop:digest", "one-click"), ("2", "all", "page")]
    d1 = enqueue(db_url, "1", loop="digest", template="news", provider="smtp", episode="2")
    t1 = enqueue(db_url, "1", loop="tips", template="news", provider="smtp")
    t2 = enqueue(db_url, "2", loop="tips", template="news", provider="smtp")
    # The outbox checks when the delivery is written (any loop, the freemium gate's too).
    assert [delivery(db_url, d)["state"] for d in (d1, t1, t2)] == \
        ["suppressed", "pending", "suppressed"]
    assert s.drain() == 1
    assert [delivery(db_url, d)["state"] for d in (d1, t1, t2)] == \
        ["suppressed", "sent", "suppressed"]


UNSUBSCRIBE_LOOP = f"""\
  unsubscribe:
    url: https://app.acme.test/skene/unsubscribe
    secret: {UNSUBSCRIBE_SECRET}
    scope: loop
"""


def test_an_opt_out_between_enqueue_and_send_wins(db_url: str, tmp_path: Path, sink: SmtpSink
                                                  ) -> None:
    cfg = compliance_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO skene.enrolments (loop, step, user_id, episode, state, sent_at)"
                     " VALUES ('digest', 0, '1', '1', 'sent', now())")
    did = enqueue(db_url, "1", loop="digest", template="news", provider="smtp")
    assert delivery(db_url, did)["state"] == "pending"
    with http(skene_app(cfg, db_url)) as c:
        assert c.post(link("1"), content=b"List-Unsubscribe=One-Click").status_code == 200
    assert sender(db_url, cfg).drain() == 0
    row = delivery(db_url, did)
    assert row["state"] == "suppressed" and sink.messages == []
    assert row["last_error"].startswith("suppressed: the user unsubscribed (all growth email)")
    with psycopg.connect(db_url) as conn:
        enrol = conn.execute("SELECT state, last_error FROM skene.enrolments").fetchone()
    assert enrol is not None and enrol[0] == "suppressed" and "unsubscribed" in enrol[1]


def test_the_loop_checks_opt_outs_when_it_decides(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    act(db_url, 1, "export", days_ago=8)
    act(db_url, 2, "export", days_ago=8)
    consume(db_url, config)
    run_cli("suppress", "add", "--user", "1", url=db_url, config_path=tmp_path / "skene.yaml")
    run_loop(db_url, config, "retention")
    e = enrolments(db_url, "retention")
    assert e["1"]["state"] == "suppressed" and e["1"]["sent_at"] is None
    assert "suppressed by hand" in e["1"]["last_error"]
    assert e["2"]["state"] == "sent"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT user_id, state FROM skene.deliveries").fetchall()
    assert rows == [("2", "pending")]


def test_listen_refuses_to_start_without_a_signing_key(db_url: str, tmp_path: Path) -> None:
    compliance_config(tmp_path, provider="console", email="""\
  unsubscribe:
    url: https://app.acme.test/skene/unsubscribe
""")
    proc = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml",
                   check=False)
    assert proc.returncode == 2, proc.stderr
    assert "SKENE_UNSUBSCRIBE_SECRET" in proc.stderr and "Traceback" not in proc.stderr
    ok = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml",
                 SKENE_UNSUBSCRIBE_SECRET="s" * 40)
    assert ok.returncode == 0


def test_check_says_what_compliance_is_missing(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "skene.yaml"
    compliance_config(tmp_path, provider="resend", email="")
    out = run_cli("check", url=db_url, config_path=path, check=False).stdout
    assert "without one-click unsubscribe" in out and "bounces and complaints" in out
    compliance_config(tmp_path, provider="resend", email="""\
  unsubscribe: {url: "http://localhost:8000/unsubscribe", secret: short}
""")
    proc = run_cli("check", url=db_url, config_path=path, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "signing key is 5 characters; it needs at least 32" in proc.stdout
    assert "mail clients only offer one-click unsubscribe over https" in proc.stdout


def test_mounted_in_a_fastapi_app(db_url: str, tmp_path: Path) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.mount("/skene", skene_app(compliance_config(tmp_path), db_url))
    with http(app) as c:
        assert c.get("/skene" + link()).status_code == 200
        assert c.post("/skene" + link(), content=b"List-Unsubscribe=One-Click").status_code == 200
        assert c.get("/skene/healthz").json() == {"ok": True}
    assert [s["user_id"] for s in suppressions(db_url)] == ["1"]
