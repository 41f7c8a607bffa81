"""Migration 0008 carries what the 0006 webhook knew: stored events stay redeliveries, plans Stripe
set stand in for their subscriptions until Stripe sends them again, customers stay linked."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from alembic import command
from alembic.script import ScriptDirectory

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.migrations import runner
from tests.conftest import scalar
from tests.freemium_support import freemium_config, rows, sign, stripe_event, subscription
from tests.pgcluster import RedisServer


def test_upgrade_keeps_what_the_old_webhook_knew(db_url: str, redis_server: RedisServer,
                                                 tmp_path: Path) -> None:
    before = ScriptDirectory(str(runner.HERE)).get_revision("0009_billing").down_revision
    assert isinstance(before, str)
    command.downgrade(runner.alembic_config(db_url), before)
    assert scalar(db_url, "SELECT to_regclass('skene.stripe_events')") is None
    old = json.loads(stripe_event("customer.subscription.created", subscription("1"),
                                  event_id="evt_before_upgrade"))
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test'), (2, 'b@x.test')")
        conn.execute("INSERT INTO skene.events (txid, source, op, user_id, event, occurred_at, "
                     "data, external_id) VALUES (pg_current_xact_id(), 'stripe', 'event', '1', %s, "
                     "to_timestamp(%s), %s, %s)",
                     (old["type"], old["created"], json.dumps(old), old["id"]))
        conn.execute("""
            INSERT INTO skene.user_plans (user_id, plan, stripe_customer_id,
                stripe_subscription_id, status, billing_anchor, stripe_event_id, stripe_event_at)
            VALUES ('1', 'paid', 'cus_1', 'sub_1', 'active', to_timestamp(1748736000), 'evt_x',
                    now() - interval '1 day'),
                   ('2', 'paid', NULL, NULL, 'active', NULL, NULL, NULL)""")
    command.upgrade(runner.alembic_config(db_url), "heads")

    assert rows(db_url, "SELECT id, user_id FROM skene.stripe_events") == [
        ("evt_before_upgrade", "1")]
    assert rows(db_url, "SELECT id, customer_id, user_ref, status, priced, source "
                        "FROM skene.stripe_subscriptions") == [
        ("sub_1", "cus_1", "1", "active", True, "migrated")]
    assert rows(db_url, "SELECT id, user_ref FROM skene.stripe_customers") == [("cus_1", "1")]

    app = StripeWebhookApp(freemium_config(tmp_path, redis_server.url), db_url)
    body = json.dumps(old).encode()
    assert app.handle(body, sign(body))[1]["duplicate"] is True
    # A renewal of the migrated subscription, named only by its customer: still paid, anchor kept.
    renewal = stripe_event("invoice.paid", {"customer": "cus_1", "subscription": "sub_1",
                                            "amount_paid": 1900})
    status, answer = app.handle(renewal, sign(renewal))
    assert status == 200 and answer["user_id"] == "1" and answer["plan"] == "paid", answer
    assert scalar(db_url, "SELECT extract(epoch FROM billing_anchor)::bigint FROM "
                          "skene.user_plans WHERE user_id = '1'") == 1748736000
    # Its deletion ends it; the plan user 2 was given by hand is not Stripe's to change.
    gone = {**subscription("1", customer="cus_1"), "status": "canceled"}
    deleted = stripe_event("customer.subscription.deleted", gone)
    assert app.handle(deleted, sign(deleted))[1]["plan"] == "free"
    assert rows(db_url, "SELECT user_id, plan FROM skene.user_plans ORDER BY 1") == [
        ("1", "free"), ("2", "paid")]
    app.close()
