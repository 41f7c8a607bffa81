"""Hostile input to the Stripe webhook (issues 11 and 15): validly signed bodies that are not
Stripe events get 400 with the reason, never 500 and never a traceback; signature timestamps
outside the tolerance are refused both ways; a NUL in a string is stored safely."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.config import Config
from tests.conftest import scalar
from tests.freemium_support import freemium_config, serve, sign, stripe_event, subscription
from tests.pgcluster import RedisServer


@pytest.fixture
def app(db_url: str, redis_server: RedisServer, tmp_path: Path) -> StripeWebhookApp:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 5) g")
    cfg: Config = freemium_config(tmp_path, redis_server.url)
    return StripeWebhookApp(cfg, db_url)


def envelope(**fields: object) -> bytes:
    event: dict[str, object] = {"id": "evt_hostile", "object": "event", "type":
                                "customer.subscription.created", "created": int(time.time()),
                                "data": {"object": subscription("1")}}
    event.update(fields)
    return json.dumps(event).encode()


DEEP = 100_000
MALFORMED = {
    "list": (b"[1,2]", "not a JSON object"),
    "string": (b'"x"', "not a JSON object"),
    "null": (b"null", "not a JSON object"),
    "not json": (b"{nope", "not JSON"),
    "not utf-8": (b'{"id": "\xff"}', "UTF-8"),
    "object is a list": (envelope(data={"object": [1, 2]}), "data.object"),
    "data missing": (envelope(data=None), "data"),
    "deep array": (b"[" * DEEP + b"]" * DEEP, "nested"),
    "deep object in data.object": (
        envelope().replace(b'"metadata": {', b'"metadata": {"x": ' + b'{"a": ' * DEEP + b"1"
                           + b"}" * DEEP + b", "), "nested"),
    "created is text": (envelope(created="abc"), "created"),
    "created is a bool": (envelope(created=True), "created"),
    "created is huge": (envelope(created=10**30), "created"),
    "created overflows": (envelope().replace(b'"created": ', b'"created": 1e999, "x": '),
                          "number"),
    "NaN": (envelope().replace(b'"created": ', b'"n": NaN, "created": '), "NaN"),
    "id missing": (envelope(id=None), "id"),
    "id is a number": (envelope(id=5), "id"),
    "type missing": (envelope(type=None), "type"),
    "status is a list": (envelope(data={"object": {**subscription("1"), "status": ["active"]}}),
                         "status"),
    "customer is a number": (envelope(data={"object": {**subscription("1"), "customer": 7}}),
                             "customer"),
    "anchor is text": (envelope(data={"object": {**subscription("1"),
                                                 "billing_cycle_anchor": "soon"}}),
                       "billing_cycle_anchor"),
    "metadata is a string": (envelope(data={"object": {**subscription("1"), "metadata": "x"}}),
                             "metadata"),
    "user id is a list": (envelope(data={"object": {**subscription("1"),
                                                    "metadata": {"user_id": [1]}}}),
                          "user_id"),
    "id too long": (envelope(id="evt_" + "x" * 5000), "id"),
}


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_signed_bodies_get_400_with_the_reason(
        name: str, app: StripeWebhookApp, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    body, reason = MALFORMED[name]
    caplog.set_level(logging.DEBUG)
    status, answer = app.handle(body, sign(body))
    assert status == 400, answer
    assert reason in str(answer["error"]), answer
    no_traceback(caplog)
    assert scalar(db_url, "SELECT count(*) FROM skene.events WHERE source = 'stripe'") == 0
    assert scalar(db_url, "SELECT count(*) FROM skene.user_plans") == 0


def test_the_same_refusals_over_http(app: StripeWebhookApp, caplog: pytest.LogCaptureFixture
                                     ) -> None:
    """Through uvicorn: the answer is JSON with the reason, and the server logs no traceback."""
    caplog.set_level(logging.DEBUG)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        for name in ("list", "deep array", "created is text"):
            body = MALFORMED[name][0]
            r = client.post("/stripe/webhook", content=body,
                            headers={"stripe-signature": sign(body)})
            assert r.status_code == 400 and MALFORMED[name][1] in r.json()["error"], r.text
    no_traceback(caplog)


@pytest.mark.parametrize("offset", [-3600, -400, 400, 10 * 86400])
def test_signature_timestamps_outside_the_tolerance_are_refused_both_ways(
        offset: int, app: StripeWebhookApp, db_url: str) -> None:
    body = stripe_event("customer.subscription.created", subscription("1"))
    status, answer = app.handle(body, sign(body, t=int(time.time()) + offset))
    assert status == 400, answer
    assert "timestamp" in answer["error"]
    assert scalar(db_url, "SELECT count(*) FROM skene.user_plans") == 0


@pytest.mark.parametrize("offset", [-200, 0, 200])
def test_signature_timestamps_within_the_tolerance_are_accepted(
        offset: int, app: StripeWebhookApp) -> None:
    body = stripe_event("customer.subscription.created", subscription("1"))
    status, answer = app.handle(body, sign(body, t=int(time.time()) + offset))
    assert status == 200, answer


def test_a_nul_in_a_signed_event_is_stored_not_a_500(app: StripeWebhookApp, db_url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL's jsonb refuses \\u0000; skene stores U+FFFD in its place (docs/freemium.md)."""
    caplog.set_level(logging.DEBUG)
    sub = subscription("2")
    sub["metadata"]["note\u0000key"] = "a\u0000b"
    sub["description"] = "\u0000"
    body = stripe_event("customer.subscription.created", sub, event_id="evt_nul")
    status, answer = app.handle(body, sign(body))
    assert status == 200, answer
    assert answer["user_id"] == "2" and answer["plan"] == "paid"
    stored = scalar(db_url, "SELECT data->'data'->'object' FROM skene.stripe_events "
                            "WHERE id = 'evt_nul'")
    assert isinstance(stored, dict)
    assert stored["metadata"]["note\ufffdkey"] == "a\ufffdb" and stored["description"] == "\ufffd"
    # A NUL inside the user id names no user: recorded, no plan.
    sub = subscription("3")
    sub["id"], sub["metadata"]["user_id"] = "sub_nul", "3\u0000"
    body = stripe_event("customer.subscription.created", sub, event_id="evt_nul_user")
    status, answer = app.handle(body, sign(body))
    assert status == 200 and answer["user_id"] is None, answer
    assert scalar(db_url, "SELECT count(*) FROM skene.user_plans WHERE user_id = '3'") == 0
    no_traceback(caplog)
