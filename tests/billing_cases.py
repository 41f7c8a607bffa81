"""Stripe events built from the object shapes in tests/data/stripe/ (API 2024-06-20 and
2025-03-31.basil), and the table of sequences in cases.json.

A case names what differs from the stored shape; this module writes it where that API version
keeps it: basil moved `current_period_*` from the subscription onto each item, and an invoice's
subscription (and its metadata copy) from `subscription`/`subscription_details` to
`parent.subscription_details`."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "stripe"
OLD = "2024-06-20"
BASIL = "2025-03-31.basil"
SHAPES = {"subscription": "subscription_{api}.json", "invoice": "invoice_{api}.json",
          "checkout_session": "checkout_session.json", "customer": "customer.json"}


@cache
def _shape(kind: str, api: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / SHAPES[kind].format(api=api)).read_text())
    return data


def cases() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / "cases.json").read_text())["cases"]
    return loaded


def stripe_object(spec: dict[str, Any]) -> dict[str, Any]:
    """The object of one event spec: the stored shape, `set` applied (top-level keys replaced
    whole), then the version-dependent fields."""
    api = spec.get("api", BASIL)
    kind = spec["object"]
    obj = copy.deepcopy(_shape(kind, api))
    obj.update(copy.deepcopy(spec.get("set", {})))
    if kind == "subscription":
        _shape_subscription(obj, api, spec)
    elif kind == "invoice":
        _shape_invoice(obj, api, spec)
    return obj


def event(spec: dict[str, Any]) -> dict[str, Any]:
    api = spec.get("api", BASIL)
    return {"id": spec["id"], "object": "event", "api_version": api, "created": spec["created"],
            "data": {"object": stripe_object(spec)}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": "req_" + spec["id"][4:], "idempotency_key": None},
            "type": spec["type"]}


def payload(spec: dict[str, Any]) -> bytes:
    return json.dumps(event(spec)).encode()


def _shape_subscription(obj: dict[str, Any], api: str, spec: dict[str, Any]) -> None:
    items = obj["items"]["data"]
    obj["items"]["url"] = f"/v1/subscription_items?subscription={obj['id']}"
    for item in items:
        item["subscription"] = obj["id"]
    if "unit_amount" in spec:
        amount = spec["unit_amount"]
        for item in items:
            item["price"].update(unit_amount=amount, unit_amount_decimal=str(amount))
            item["plan"].update(amount=amount, amount_decimal=str(amount))
        if "plan" in obj:  # the old shape also repeats the single plan at the top
            obj["plan"].update(amount=amount, amount_decimal=str(amount))
    if "anchor" in spec:
        obj["billing_cycle_anchor"] = spec["anchor"]
    if "period" in spec:
        start, end = spec["period"]
        if api == OLD:
            obj.update(current_period_start=start, current_period_end=end)
        else:
            for item in items:
                item.update(current_period_start=start, current_period_end=end)


def _shape_invoice(obj: dict[str, Any], api: str, spec: dict[str, Any]) -> None:
    lines = obj["lines"]["data"]
    obj["lines"]["url"] = f"/v1/invoices/{obj['id']}/lines"
    for line in lines:
        line["invoice"] = obj["id"]
    if "subscription" in spec:
        sub = spec["subscription"]
        if api == OLD:
            obj["subscription"] = sub
            for line in lines:
                line["subscription"] = sub
        else:
            obj["parent"]["subscription_details"]["subscription"] = sub
            for line in lines:
                line["parent"]["subscription_item_details"]["subscription"] = sub
    if "subscription_metadata" in spec:
        meta = dict(spec["subscription_metadata"])
        if api == OLD:
            obj["subscription_details"] = {"metadata": meta}
            for line in lines:
                line["metadata"] = dict(meta)
        else:
            obj["parent"]["subscription_details"]["metadata"] = meta
    if "amount_paid" in spec:
        amount = spec["amount_paid"]
        obj.update(amount_paid=amount, amount_due=amount, total=amount, subtotal=amount,
                   subtotal_excluding_tax=amount, total_excluding_tax=amount)
        for line in lines:
            line["amount"] = amount
