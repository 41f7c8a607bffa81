"""Issue 16: a user's plan follows Stripe's subscriptions, not the last event. Every sequence in
tests/data/stripe/cases.json, delivered in every order (all permutations), through the webhook's
real path, must end in the same skene.user_plans row, skene.users.plan and Redis plan cache."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.config import Config
from skene_cdc.freemium.meter import plan_key
from tests.billing_cases import cases, payload
from tests.conftest import write_config
from tests.freemium_support import freemium_config, sign
from tests.pgcluster import RedisServer

USERS = 20
PLAN_ROW = """
    SELECT user_id, plan, status, stripe_subscription_id AS subscription,
           stripe_customer_id AS customer, extract(epoch FROM billing_anchor)::bigint AS anchor,
           extract(epoch FROM current_period_end)::bigint AS period_end
    FROM skene.user_plans ORDER BY user_id"""


def case_config(tmp_path: Path, redis_url: str, case: dict[str, Any]) -> Config:
    freemium_config(tmp_path, redis_url)
    text = (tmp_path / "skene.yaml").read_text()
    for key, column in case.get("users", {}).items():
        text = text.replace("created_at: created_at}", f"created_at: created_at, {key}: {column}}}")
    return write_config(tmp_path, text)


def reset(url: str, r: redis.Redis, prefix: str) -> None:
    """Forget everything billing stored, so the next order starts from nothing."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT format('skene.%I', tablename) FROM pg_tables WHERE schemaname = 'skene' "
            "AND (tablename LIKE 'stripe\\_%' OR tablename = 'user_plans')").fetchall()]
        conn.execute(f"TRUNCATE {', '.join(tables)}")
        conn.execute("DELETE FROM skene.events WHERE source = 'stripe'")
    keys = list(r.scan_iter(f"{prefix}*"))
    if keys:
        r.delete(*keys)


def state(url: str, r: redis.Redis, prefix: str, case: dict[str, Any]) -> dict[str, Any]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        plans = {row.pop("user_id"): row for row in conn.execute(PLAN_ROW).fetchall()}
        shown = {u: conn.execute("SELECT plan FROM skene.users WHERE user_id = %s",
                                 (u,)).fetchone() for u in case["expect"]}
        unknown = None
        if "unknown" in case:
            unknown = sorted(row["user_ref"] for row in conn.execute(
                "SELECT user_ref FROM skene.stripe_unknown_users").fetchall())
    cache = {u: r.hgetall(plan_key(prefix, u)) for u in [*case["expect"], *case.get("unknown", [])]}
    return {"plans": plans, "users_view": {u: v and v["plan"] for u, v in shown.items()},
            "cache": {u: v for u, v in cache.items() if v}, "unknown": unknown}


def expected(case: dict[str, Any]) -> dict[str, Any]:
    rows = {u: dict(v) for u, v in case["expect"].items() if v is not None}
    return {"plans": rows,
            "users_view": {u: (v["plan"] if v else "free") for u, v in case["expect"].items()},
            "cache": {u: {"plan": v["plan"], "status": v["status"], "anchor": str(v["anchor"])}
                      for u, v in rows.items()},
            "unknown": sorted(case["unknown"]) if "unknown" in case else None}


def orders(events: list[dict[str, Any]]) -> list[tuple[int, ...]]:
    """Every delivery order (a redelivered event appears twice in a case: orders that differ
    only by swapping the two copies are the same order)."""
    seen: dict[tuple[str, ...], tuple[int, ...]] = {}
    for perm in itertools.permutations(range(len(events))):
        seen.setdefault(tuple(events[i]["id"] for i in perm), perm)
    return list(seen.values())


def test_the_table_covers_every_case_of_the_issue() -> None:
    names = {c["name"] for c in cases()}
    assert {"zero_price_checkout", "two_subscriptions_one_canceled", "invoice_paid_after_deletion",
            "same_second", "zero_invoice_before_trial", "metadata_on_customer_only",
            "checkout_links_anchor", "unknown_users"} <= names
    assert all(len(c["events"]) <= 4 for c in cases())
    shapes = {e.get("api") for c in cases() for e in c["events"] if e["object"] == "subscription"}
    assert shapes == {"2024-06-20", "2025-03-31.basil"}


@pytest.mark.parametrize("case", cases(), ids=lambda c: c["name"])
def test_every_delivery_order_ends_the_same(case: dict[str, Any], db_url: str,
                                             redis_server: RedisServer, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                     "FROM generate_series(1, %s) g", (USERS,))
        for statement in case.get("setup", []):
            conn.execute(statement)
    cfg = case_config(tmp_path, redis_server.url, case)
    assert cfg.redis is not None
    prefix = cfg.redis.key_prefix
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    app = StripeWebhookApp(cfg, db_url)
    want = expected(case)
    failures = []
    try:
        for order in orders(case["events"]):
            reset(db_url, r, prefix)
            for i in order:
                body = payload(case["events"][i])
                status, answer = app.handle(body, sign(body))
                assert status == 200, (case["events"][i]["id"], answer)
            got = state(db_url, r, prefix, case)
            if got != want:
                failures.append((" -> ".join(case["events"][i]["id"] for i in order), got))
    finally:
        app.close()
    assert failures == [], f"{case['name']}: expected {want}\n" + "\n".join(
        f"  order {o}\n    got {g}" for o, g in failures)
