"""Property: whatever signed body reaches the Stripe webhook (random JSON, Stripe-shaped events
with random fields, deep nesting, NULs, bytes that are not UTF-8), the answer is 200 or 400 with
a reason, never a 500, never a traceback in the log, never a hang (issue 11, section 4).

Fast by default; `HYPOTHESIS_PROFILE=fuzz` runs the long profile (tests/fuzzing.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skene_cdc.billing.webhook import StripeWebhookApp
from tests import fuzzing
from tests.conftest import clone, drop
from tests.freemium_support import freemium_config, sign
from tests.pgcluster import PgCluster, RedisServer

leaf = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats() | st.text(max_size=12) | st.sampled_from(["", "\x00", "a\x00b", "\ud800"]))
anything = st.recursive(leaf, lambda kids: st.lists(kids, max_size=4)
                        | st.dictionaries(st.text(max_size=6), kids, max_size=4), max_leaves=16)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a plausible value, so examples get past validation into the database; now and
    then anything at all."""
    return st.integers(0, 9).flatmap(lambda i: anything if i == 9 else good)


ids = mostly(st.sampled_from(["sub_1", "sub_2", "sub_3", "cus_1", "cus_2", "", "x" * 300]))
refs = mostly(st.sampled_from(["1", "2", "3", "99999", " 18", "usr_2abcDEF", "1\x00", "x" * 600]))
statuses = mostly(st.sampled_from(["active", "trialing", "past_due", "incomplete", "unpaid",
                                   "paused", "canceled", "incomplete_expired", "weird"]))
times = mostly(st.integers(min_value=-5, max_value=2**31))
amounts = mostly(st.integers(-1, 5000))
metadata = mostly(st.fixed_dictionaries({}, optional={"user_id": refs}))
item = st.fixed_dictionaries({}, optional={
    "price": mostly(st.fixed_dictionaries({}, optional={"unit_amount": amounts})),
    "plan": mostly(st.fixed_dictionaries({}, optional={"amount": amounts})),
    "quantity": amounts, "current_period_end": times})
details = mostly(st.fixed_dictionaries({}, optional={"subscription": ids, "metadata": metadata}))
stripe_object = st.fixed_dictionaries({"id": ids, "status": statuses}, optional={
    "object": anything, "customer": ids, "metadata": metadata,
    "items": mostly(st.fixed_dictionaries({"data": st.lists(item, max_size=3)})),
    "billing_cycle_anchor": times, "current_period_end": times, "subscription": ids,
    "client_reference_id": refs, "mode": mostly(st.sampled_from(["subscription", "payment"])),
    "payment_status": mostly(st.sampled_from(["paid", "no_payment_required", "unpaid"])),
    "amount_total": amounts, "amount_paid": amounts, "deleted": anything,
    "subscription_details": mostly(st.fixed_dictionaries({}, optional={"metadata": metadata})),
    "parent": mostly(st.fixed_dictionaries({}, optional={"subscription_details": details}))})
TYPES = ["customer.subscription.created", "customer.subscription.updated",
         "customer.subscription.deleted", "customer.subscription.paused", "customer.created",
         "customer.updated", "checkout.session.completed", "invoice.paid",
         "invoice.payment_succeeded", "charge.refunded"]
event = st.fixed_dictionaries({
    "id": mostly(st.text(min_size=1, max_size=20).map(lambda s: "evt_" + s)),
    "type": mostly(st.sampled_from(TYPES)), "created": times,
    "data": mostly(st.fixed_dictionaries({"object": mostly(stripe_object)}))})
deep = st.tuples(st.integers(1, 3000), st.sampled_from(["[", '{"a":'])).map(
    lambda p: p[1] * p[0] + "1" + ("]" if p[1] == "[" else "}") * p[0])
events = event.map(json.dumps)
bodies = st.integers(0, 9).flatmap(
    lambda i: events.map(str.encode) if i < 7 else anything.map(json.dumps).map(str.encode)
    if i == 7 else deep.map(str.encode) if i == 8 else st.binary(max_size=64))


@pytest.fixture(scope="module")
def fuzz_db(pg: PgCluster, skene_template: str) -> Iterator[str]:
    name = clone(pg, skene_template)
    with psycopg.connect(pg.url(name)) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 5) g")
    yield pg.url(name)
    drop(pg, name)


@pytest.fixture(scope="module")
def app(fuzz_db: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[StripeWebhookApp]:
    cfg = freemium_config(tmp_path_factory.mktemp("fuzz"), redis_server.url)
    webhook = StripeWebhookApp(cfg, fuzz_db)
    yield webhook
    webhook.close()


def post(app: StripeWebhookApp, body: bytes) -> tuple[int, dict[str, Any]]:
    """One POST through the ASGI app, as uvicorn would deliver it."""
    sent: list[MutableMapping[str, Any]] = []
    scope = {"type": "http", "method": "POST", "path": "/stripe/webhook", "root_path": "",
             "headers": [(b"stripe-signature", sign(body).encode())]}

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.mark.timeout(fuzzing.TIMEOUT)
@given(body=bodies)
def test_signed_random_json_never_gets_a_500(app: StripeWebhookApp, body: bytes,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    caplog.set_level(logging.INFO)
    status, answer = post(app, body)
    assert status in (200, 400), answer
    if status == 400:
        assert answer["error"].startswith("malformed event: "), answer
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r for r in caplog.records if r.exc_info] == []

