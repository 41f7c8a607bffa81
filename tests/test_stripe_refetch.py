"""`stripe.refetch: true`: each event's subscription (and customer) is read back from Stripe with
the official SDK, here from a local server through `stripe.api_base`, and that current state
is stored instead of the event's snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import stripe

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.checks import CheckContext
from skene_cdc.config import Config
from skene_cdc.errors import ConfigError
from skene_cdc.runtime.checks import run_checks
from tests.billing_cases import BASIL, stripe_object
from tests.conftest import scalar, write_config
from tests.fakes.stripe_api import FakeStripeAPI
from tests.freemium_support import freemium_config, rows, sign, stripe_event
from tests.pgcluster import RedisServer

KEY = "rk_test_refetch"
ANCHOR, END = 1748736000, 1751328000


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripeAPI]:
    fake = FakeStripeAPI(KEY).start()
    monkeypatch.setattr(stripe, "api_base", fake.url)
    yield fake
    fake.stop()


def refetch_config(tmp_path: Path, redis_url: str, *, api_key: str | None = KEY) -> Config:
    freemium_config(tmp_path, redis_url)
    text = (tmp_path / "skene.yaml").read_text().replace(
        "  user_id_from: metadata.user_id\n",
        "  user_id_from: metadata.user_id\n  refetch: true\n"
        + (f"  api_key: {api_key}\n" if api_key else ""))
    return write_config(tmp_path, text)


@pytest.fixture
def app(db_url: str, redis_server: RedisServer, tmp_path: Path, api: FakeStripeAPI
        ) -> Iterator[StripeWebhookApp]:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 5) g")
    webhook = StripeWebhookApp(refetch_config(tmp_path, redis_server.url), db_url)
    yield webhook
    webhook.close()


def sub(sub_id: str, user: str | None, status: str = "active") -> dict[str, Any]:
    return stripe_object({"object": "subscription", "api": BASIL, "anchor": ANCHOR,
                          "period": [ANCHOR, END],
                          "set": {"id": sub_id, "customer": f"cus_{sub_id}", "status": status,
                                  "metadata": {"user_id": user} if user else {}}})


def deliver(app: StripeWebhookApp, kind: str, obj: dict[str, Any], created: int = ANCHOR
            ) -> tuple[int, dict[str, Any]]:
    body = stripe_event(kind, obj, created=created)
    return app.handle(body, sign(body))


def plan_row(url: str, user: str) -> tuple[Any, ...]:
    found = rows(url, "SELECT plan, status, extract(epoch FROM billing_anchor)::bigint, "
                      "extract(epoch FROM current_period_end)::bigint FROM skene.user_plans "
                      "WHERE user_id = %s", (user,))
    return found[0] if found else ()


def test_the_current_object_wins_over_the_event_snapshot(app: StripeWebhookApp,
                                                         api: FakeStripeAPI, db_url: str) -> None:
    """The payload says active; Stripe says canceled now: the user is free, whatever arrives."""
    api.objects["sub_r1"] = sub("sub_r1", "1", status="canceled")
    status, answer = deliver(app, "customer.subscription.updated", sub("sub_r1", "1"))
    assert status == 200 and answer["plan"] == "free", answer
    status, answer = deliver(app, "customer.subscription.created", sub("sub_r1", "1"),
                             created=ANCHOR - 60)
    assert status == 200 and answer["plan"] == "free", answer
    assert plan_row(db_url, "1") == ("free", "canceled", ANCHOR, END)
    assert api.requests == [("/v1/subscriptions/sub_r1", f"Bearer {KEY}")] * 2
    stored = scalar(db_url, "SELECT source FROM skene.stripe_subscriptions WHERE id = 'sub_r1'")
    assert stored == "refetch"


def test_checkout_alone_gets_anchor_and_period_end(app: StripeWebhookApp, api: FakeStripeAPI,
                                                   db_url: str) -> None:
    """An endpoint subscribed to checkout.session.completed only: the re-read subscription
    gives the billing cycle."""
    api.objects["sub_r2"] = sub("sub_r2", None)
    checkout = stripe_object({"object": "checkout_session", "set": {
        "id": "cs_test_r2", "customer": "cus_sub_r2", "subscription": "sub_r2",
        "client_reference_id": "2"}})
    status, answer = deliver(app, "checkout.session.completed", checkout)
    assert status == 200 and answer["user_id"] == "2" and answer["plan"] == "paid", answer
    assert plan_row(db_url, "2") == ("paid", "active", ANCHOR, END)


def test_customer_events_read_the_customer(app: StripeWebhookApp, api: FakeStripeAPI,
                                           db_url: str) -> None:
    api.objects["sub_r3"] = sub("sub_r3", None)
    api.objects["cus_sub_r3"] = stripe_object({"object": "customer", "set": {
        "id": "cus_sub_r3", "metadata": {"user_id": "3"}}})
    stale = stripe_object({"object": "customer", "set": {"id": "cus_sub_r3", "metadata": {}}})
    assert deliver(app, "customer.subscription.created", sub("sub_r3", None))[0] == 200
    status, answer = deliver(app, "customer.updated", stale)
    assert status == 200 and answer["user_id"] == "3" and answer["plan"] == "paid", answer
    assert ("/v1/customers/cus_sub_r3", f"Bearer {KEY}") in api.requests


def test_an_object_stripe_no_longer_has_falls_back_to_the_event(
        app: StripeWebhookApp, api: FakeStripeAPI, db_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    status, answer = deliver(app, "customer.subscription.created", sub("sub_gone", "4"))
    assert status == 200 and answer["plan"] == "paid", answer
    assert "could not re-read sub_gone" in caplog.text


def test_stripe_unreachable_answers_500_and_stores_nothing(
        app: StripeWebhookApp, api: FakeStripeAPI, db_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    api.fail("sub_r5", 500)
    status, answer = deliver(app, "customer.subscription.created", sub("sub_r5", "5"))
    assert status == 500, answer
    assert scalar(db_url, "SELECT count(*) FROM skene.stripe_events") == 0
    assert [r for r in caplog.records if r.exc_info] == []
    # Stripe delivers it again once the API answers.
    api.failing.clear()
    api.objects["sub_r5"] = sub("sub_r5", "5")
    assert deliver(app, "customer.subscription.created", sub("sub_r5", "5"))[1]["plan"] == "paid"


def test_refetch_needs_an_api_key(db_url: str, redis_server: RedisServer, tmp_path: Path
                                  ) -> None:
    cfg = refetch_config(tmp_path, redis_server.url, api_key=None)
    with pytest.raises(ConfigError, match="api_key"):
        StripeWebhookApp(cfg, db_url)
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        problems = run_checks(CheckContext(cfg, db_url, conn))
    assert [p.message for p in problems if "refetch" in p.message] == [
        "stripe.refetch re-reads objects from Stripe's API, which needs stripe.api_key"]
