"""The Stripe webhook: each event type, how the user is found, out-of-order delivery, the
conversion window, and `skene-cdc serve` as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from skene_cdc.billing.objects import EventReader, Facts
from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.config import Config
from tests.conftest import cli_env, scalar, write_config
from tests.freemium_support import (
    freemium_config,
    rows,
    sign,
    stripe_event,
    subscription,
)
from tests.pgcluster import RedisServer, free_port


def deliver(app: StripeWebhookApp, payload: bytes) -> dict[str, object]:
    status, body = app.handle(payload, sign(payload))
    assert status == 200, body
    return body


def plan(url: str, user: str) -> str:
    return str(scalar(url, "SELECT plan FROM skene.users WHERE user_id = %s", (user,)))


@pytest.fixture
def cfg(tmp_path: Path, redis_server: RedisServer) -> Config:
    return freemium_config(tmp_path, redis_server.url)


@pytest.fixture
def users(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, 5) g")
    return db_url


def test_what_each_event_type_says() -> None:
    """Events become subscription states (the plan is derived from them, in SQL); checkout and
    invoices stand in for a subscription only when money was paid."""
    reader = EventReader("metadata.user_id")

    def says(kind: str, obj: dict[str, object]) -> list[tuple[object, ...]]:
        facts = reader.read(json.loads(stripe_event(kind, obj)))
        return [(s.status, s.priced, s.source, s.final) for s in facts.states]

    sub = "customer.subscription."
    assert says(sub + "created", subscription("1")) == [("active", True, "subscription", False)]
    assert says(sub + "updated", subscription("1", status="trialing")) == \
        [("trialing", True, "subscription", False)]
    assert says(sub + "updated", subscription("1", status="unpaid"))[0][0] == "unpaid"
    # A subscription whose every price is 0 is a free plan kept in Stripe.
    assert says(sub + "created", subscription("1", amount=0))[0][1] is False
    deleted = {k: v for k, v in subscription("1").items() if k != "status"}
    assert says(sub + "deleted", deleted) == [("canceled", True, "subscription", True)]
    checkout = {"mode": "subscription", "status": "complete", "payment_status": "paid",
                "customer": "c", "subscription": "s", "amount_total": 1900}
    assert says("checkout.session.completed", checkout) == [("active", True, "checkout", False)]
    assert says("checkout.session.completed", {**checkout, "amount_total": 0,
                                               "payment_status": "no_payment_required"}) == []
    assert says("checkout.session.completed", {"mode": "payment", "payment_status": "paid"}) == []
    assert says("invoice.paid", {"customer": "c", "subscription": "s", "amount_paid": 1900}) == \
        [("active", True, "invoice", False)]
    basil = {"customer": "c", "amount_paid": 1900,
             "parent": {"subscription_details": {"subscription": "s",
                                                 "metadata": {"user_id": "7"}}}}
    facts = reader.read(json.loads(stripe_event("invoice.paid", basil)))
    assert [(s.id, s.user_ref) for s in facts.states] == [("s", "7")]
    assert [(ln.customer, ln.user_ref) for ln in facts.links] == [("c", "7")]
    assert says("invoice.paid", {"customer": "c", "subscription": "s", "amount_paid": 0}) == []
    assert reader.read(json.loads(stripe_event("charge.refunded", {}))) == Facts()


def test_customer_id_and_invoice_and_order(users: str, cfg: Config) -> None:
    app = StripeWebhookApp(cfg, users)
    # checkout names the user by client_reference_id; later events only by customer id.
    body = deliver(app, stripe_event("checkout.session.completed", {
        "mode": "subscription", "status": "complete", "payment_status": "paid",
        "customer": "cus_A", "subscription": "sub_A", "client_reference_id": "1"}))
    assert body["user_id"] == "1" and body["plan"] == "paid"
    now = int(time.time())
    deleted = stripe_event("customer.subscription.deleted",
                           {"id": "sub_A", "customer": "cus_A", "status": "canceled"},
                           created=now + 10)
    assert deliver(app, deleted)["plan"] == "free"
    # An older "active" update arriving late changes nothing.
    late = stripe_event("customer.subscription.updated",
                        {"id": "sub_A", "customer": "cus_A", "status": "active"}, created=now)
    assert deliver(app, late)["stale"] is True
    assert plan(users, "1") == "free"
    # invoice.paid finds the user from the customer id skene already knows.
    body = deliver(app, stripe_event("invoice.paid", {
        "customer": "cus_A", "subscription": "sub_A2", "amount_paid": 500}, created=now + 20))
    assert body["user_id"] == "1" and plan(users, "1") == "paid"
    # Unknown customer: recorded, nothing else.
    body = deliver(app, stripe_event("invoice.paid", {"customer": "cus_nobody",
                                                      "subscription": "s", "amount_paid": 5}))
    assert body["user_id"] is None and body["plan"] is None
    assert scalar(users, "SELECT count(*) FROM skene.external_events WHERE source = 'stripe'") == 5


def test_user_by_customer_column(users: str, tmp_path: Path, redis_server: RedisServer) -> None:
    with psycopg.connect(users) as conn:
        conn.execute("ALTER TABLE users ADD COLUMN stripe_customer_id text")
        conn.execute("UPDATE users SET stripe_customer_id = 'cus_' || id")
    freemium_config(tmp_path, redis_server.url)
    text = (tmp_path / "skene.yaml").read_text()
    text = text.replace("name: name, created_at: created_at}",
                        "name: name, created_at: created_at, stripe_customer_id: "
                        "stripe_customer_id}")
    text = text.replace("user_id_from: metadata.user_id", "user_id_from: "
                        "app.users.stripe_customer_id")
    cfg = write_config(tmp_path, text)
    app = StripeWebhookApp(cfg, users)
    sub = subscription("ignored", customer="cus_3")
    body = deliver(app, stripe_event("customer.subscription.created", sub))
    assert body["user_id"] == "3" and plan(users, "3") == "paid"


def test_conversion_only_within_window(users: str, cfg: Config) -> None:
    with psycopg.connect(users) as conn:
        conn.execute("INSERT INTO skene.enrolments (loop, user_id, episode, state, sent_at, "
                     "context) VALUES ('freemium', '2', 'old', 'sent', now() - interval "
                     "'40 days', '{\"event\": \"freemium.blocked\"}'), ('freemium', '4', 'p', "
                     "'sent', now() - interval '3 days', '{\"event\": \"freemium.blocked\"}')")
    app = StripeWebhookApp(cfg, users)
    assert deliver(app, stripe_event("customer.subscription.created",
                                     subscription("2")))["converted_enrolment"] is None
    assert deliver(app, stripe_event("customer.subscription.created",
                                     subscription("4")))["converted_enrolment"] is not None
    # Paid -> paid again is no new conversion.
    assert deliver(app, stripe_event("customer.subscription.updated",
                                     subscription("4")))["converted_enrolment"] is None
    assert rows(users, "SELECT user_id, state FROM skene.enrolments ORDER BY user_id") == \
        [("2", "sent"), ("4", "converted")]


def test_serve_command(users: str, cfg: Config, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "serve", "--port", str(port)],
                            env=cli_env(users, tmp_path / "skene.yaml"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        payload = stripe_event("customer.subscription.created", subscription("5"))
        r = httpx.post(f"{base}/stripe/webhook", content=payload,
                       headers={"stripe-signature": sign(payload)})
        assert r.status_code == 200 and r.json()["plan"] == "paid"
        r = httpx.post(f"{base}/stripe/webhook", content=payload,
                       headers={"stripe-signature": sign(payload, "whsec_forged")})
        assert r.status_code == 400
        assert httpx.get(f"{base}/stripe/webhook").status_code == 405
        assert plan(users, "5") == "paid"
    finally:
        proc.terminate()
        proc.wait(10)
