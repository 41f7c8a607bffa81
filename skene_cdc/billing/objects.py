"""What a Stripe event says, as facts: subscription states and customer -> user links.

Reads both API shapes: before 2025-03-31.basil a subscription carries `current_period_end` and
an invoice `subscription` / `subscription_details`; from basil on the period end is on each
subscription item and the invoice's subscription is under `parent.subscription_details`.
A field of the wrong type in an object skene reads is a MalformedEvent (400), named by path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skene_cdc.billing.payload import MAX_ID, MalformedEvent, unix_time

PAYING = ("active", "trialing", "past_due")
# Stripe never moves a subscription out of these.
FINAL = ("canceled", "incomplete_expired")
# For two states of one subscription stamped in the same second: the later in the lifecycle wins.
RANK = {"incomplete": 0, "trialing": 1, "paused": 2, "active": 3, "past_due": 4, "unpaid": 5,
        "canceled": 6, "incomplete_expired": 6}
MAX_REF = 500         # Stripe metadata values are at most 500 characters
CUSTOMER_EVENTS = ("customer.created", "customer.updated")
CHECKOUT_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
SUBSCRIPTION_PREFIX = "customer.subscription."


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    customer: str | None
    user_ref: str | None      # the user the subscription's own metadata names
    status: str
    priced: bool              # some item has a price that is not 0 (or not known)
    anchor: int | None
    period_end: int | None
    source: str               # subscription | refetch | checkout | invoice
    at: int                   # the event's created, or when the object was re-read
    object: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def seen_object(self) -> bool:
        return self.source in ("subscription", "refetch")

    @property
    def rank(self) -> int:
        return RANK.get(self.status, 0)


@dataclass(frozen=True)
class Link:
    customer: str
    user_ref: str
    source: str               # customer | checkout | subscription | invoice


@dataclass
class Facts:
    states: list[SubscriptionState] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)   # every subscription it names
    customers: list[str] = field(default_factory=list)       # every customer it names

    def name(self, subscription: str | None = None, customer: str | None = None) -> None:
        if subscription and subscription not in self.subscriptions:
            self.subscriptions.append(subscription)
        if customer and customer not in self.customers:
            self.customers.append(customer)


@dataclass
class Fetched:
    """Objects re-read from Stripe for one event (refetch mode), and when."""

    at: int
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)


class EventReader:
    """`user_path`: where objects name the app's user (stripe.user_id_from), or None when only
    the users table's customer column does."""

    def __init__(self, user_path: str | None) -> None:
        self.path = user_path.split(".") if user_path else None

    def named(self, event: dict[str, Any]) -> Facts:
        """Only the ids the event names (what refetch mode re-reads)."""
        return self.read(event, None, names_only=True)

    def read(self, event: dict[str, Any], fetched: Fetched | None = None, *,
             names_only: bool = False) -> Facts:
        kind: str = event["type"]
        obj: dict[str, Any] = event["data"]["object"]
        at: int = event["created"]
        facts = Facts()
        if kind.startswith(SUBSCRIPTION_PREFIX):
            sub_id = _required_id(obj, "id")
            facts.name(sub_id, _id(obj, "customer"))
            if names_only:
                return facts
            current = fetched.subscriptions.get(sub_id) if fetched else None
            if current is not None and fetched is not None:
                self._subscription(facts, current, "refetch", fetched.at, "refetched subscription")
            else:
                default = "canceled" if kind.endswith(".deleted") else None
                self._subscription(facts, obj, "subscription", at, "data.object", default)
        elif kind in CUSTOMER_EVENTS:
            customer = _required_id(obj, "id")
            facts.name(customer=customer)
            if names_only:
                return facts
            current = fetched.customers.get(customer) if fetched else None
            source = current if current is not None else obj
            ref = None if source.get("deleted") is True else self.user_ref(source, "data.object")
            if ref:
                facts.links.append(Link(customer, ref, "customer"))
        elif kind in CHECKOUT_EVENTS:
            self._checkout(facts, obj, at, fetched, names_only)
        elif kind in INVOICE_EVENTS:
            self._invoice(facts, obj, at, fetched, names_only)
        return facts

    def user_ref(self, obj: dict[str, Any], where: str) -> str | None:
        if self.path is None:
            return None
        value: Any = obj
        for i, part in enumerate(self.path):
            if value is None:
                return None
            if not isinstance(value, dict):
                raise MalformedEvent(f"{where}.{'.'.join(self.path[:i])} is not an object")
            value = value.get(part)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise MalformedEvent(f"{where}.{'.'.join(self.path)} is not a string")
        if len(value) > MAX_REF:
            raise MalformedEvent(f"{where}.{'.'.join(self.path)} is longer than {MAX_REF} "
                                 "characters")
        return value

    # -- per object ----------------------------------------------------------------------------

    def _subscription(self, facts: Facts, obj: dict[str, Any], source: str, at: int,
                      where: str, default_status: str | None = None) -> None:
        sub_id = _required_id(obj, "id", where)
        customer = _id(obj, "customer", where)
        status = obj.get("status", default_status) or default_status
        if not isinstance(status, str) or not status:
            raise MalformedEvent(f"{where}.status is missing or not a string")
        items = _items(obj, where)
        ref = self.user_ref(obj, where)
        facts.name(sub_id, customer)
        facts.states.append(SubscriptionState(
            sub_id, customer, ref, status, _priced(items), _time(obj, "billing_cycle_anchor", where),
            _period_end(obj, items, where), source, at, obj))
        if ref and customer:
            facts.links.append(Link(customer, ref, "subscription"))

    def _checkout(self, facts: Facts, obj: dict[str, Any], at: int, fetched: Fetched | None,
                  names_only: bool) -> None:
        sub_id = _id(obj, "subscription")
        customer = _id(obj, "customer")
        facts.name(sub_id, customer)
        if names_only:
            return
        ref = self.user_ref(obj, "data.object")
        if ref is None and self.path is not None:
            ref = _ref_text(obj, "client_reference_id")
        if ref and customer:
            facts.links.append(Link(customer, ref, "checkout"))
        if sub_id and fetched and sub_id in fetched.subscriptions:
            self._subscription(facts, fetched.subscriptions[sub_id], "refetch", fetched.at,
                               "refetched subscription")
            return
        # Paid money for a subscription: it stands in until the subscription itself is seen.
        # no_payment_required is a trial or a $0 price: only the subscription can tell which.
        amount = obj.get("amount_total")
        if (sub_id and obj.get("mode") == "subscription"
                and obj.get("status", "complete") == "complete"
                and obj.get("payment_status") == "paid" and amount != 0):
            facts.states.append(SubscriptionState(sub_id, customer, None, "active", True, None,
                                                  None, "checkout", at))

    def _invoice(self, facts: Facts, obj: dict[str, Any], at: int, fetched: Fetched | None,
                 names_only: bool) -> None:
        parent = _object(obj, "parent", "data.object")
        details = _object(parent, "subscription_details", "data.object.parent") if parent else None
        sub_id = _id(obj, "subscription") or (
            _id(details, "subscription", "data.object.parent.subscription_details")
            if details else None)
        customer = _id(obj, "customer")
        facts.name(sub_id, customer)
        if names_only:
            return
        old_details = _object(obj, "subscription_details", "data.object")
        sub_ref = None
        for base, where in ((old_details, "data.object.subscription_details"),
                            (details, "data.object.parent.subscription_details")):
            if base is not None and sub_ref is None:
                sub_ref = self.user_ref(base, where)
        ref = self.user_ref(obj, "data.object") or sub_ref
        if ref and customer:
            facts.links.append(Link(customer, ref, "invoice"))
        if sub_id and fetched and sub_id in fetched.subscriptions:
            self._subscription(facts, fetched.subscriptions[sub_id], "refetch", fetched.at,
                               "refetched subscription")
            return
        paid = obj.get("amount_paid")
        if sub_id and isinstance(paid, int | float) and not isinstance(paid, bool) and paid > 0:
            facts.states.append(SubscriptionState(sub_id, customer, sub_ref, "active", True, None,
                                                  None, "invoice", at))


# -- fields ------------------------------------------------------------------------------------


def _id(obj: dict[str, Any], key: str, where: str = "data.object") -> str | None:
    """A Stripe id, or an expanded object carrying one."""
    value = obj.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_ID:
        raise MalformedEvent(f"{where}.{key} is not a Stripe id")
    return value


def _required_id(obj: dict[str, Any], key: str, where: str = "data.object") -> str:
    value = _id(obj, key, where)
    if value is None:
        raise MalformedEvent(f"{where}.{key} is missing")
    return value


def _ref_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_REF:
        raise MalformedEvent(f"data.object.{key} is not a string of at most {MAX_REF} "
                             "characters")
    return value


def _object(obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}.{key} is not an object")
    return value


def _time(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if unix_time(value) is None:
        raise MalformedEvent(f"{where}.{key} is not a Unix time in seconds")
    return int(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _items(obj: dict[str, Any], where: str) -> list[dict[str, Any]]:
    items = _object(obj, "items", where)
    data = items.get("data") if items else None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise MalformedEvent(f"{where}.items.data is not a list of subscription items")
    return data


def _priced(items: list[dict[str, Any]]) -> bool:
    """False only when every item is known to cost 0 (a free plan kept in Stripe)."""
    if not items:
        return True
    for item in items:
        price, plan = item.get("price"), item.get("plan")
        amount = price.get("unit_amount") if isinstance(price, dict) else None
        if amount is None and isinstance(plan, dict):
            amount = plan.get("amount")
        quantity = item.get("quantity")
        if not _number(amount) or (amount != 0 and quantity != 0):
            return True
    return False


def _period_end(obj: dict[str, Any], items: list[dict[str, Any]], where: str) -> int | None:
    top = _time(obj, "current_period_end", where)
    if top is not None:
        return top
    ends = [t for i, item in enumerate(items)
            if (t := _time(item, "current_period_end", f"{where}.items.data[{i}]")) is not None]
    return min(ends) if ends else None
