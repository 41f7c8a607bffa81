"""What Resend's webhooks tell skene about the emails it sent, applied in one transaction:

- every event is kept once in skene.resend_events (keyed by its svix-id: a redelivery is a
  no-op), linked to the delivery it is about (deliveries.provider_message_id = data.email_id);
- a hard bounce (`email.bounced` with bounce.type Permanent), a complaint (`email.complained`)
  or Resend's own suppression (`email.suppressed`) suppresses the address for all growth email;
- an event about a delivery lands in skene.events (source `resend`, event = the type, e.g.
  `email.opened`, not activity) with the delivery's loop, template and episode in `data`, so
  loops and SQL conditions can use engagement ("opened the re-engagement email but did not come
  back"). Events about emails skene did not send are kept in skene.resend_events only.
"""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.handlers.email import suppression
from skene_cdc.streams.source import EventRow, insert_events

log = logging.getLogger("skene.email")
SOURCE = "resend"


class MalformedEvent(ValueError):
    """Signed, but not a Resend email event skene can read."""


@dataclass(frozen=True)
class ResendEvent:
    id: str            # svix-id
    type: str          # email.bounced, email.opened, ...
    created: datetime
    email_id: str | None
    addresses: list[str]
    data: dict[str, Any]
    raw: dict[str, Any]

    @property
    def suppression(self) -> tuple[str, str] | None:
        """(reason, detail) when this event means: stop emailing the address."""
        if self.type == "email.complained":
            return "complaint", "complaint reported through Resend"
        if self.type == "email.suppressed":
            return "provider", "on Resend's suppression list"
        bounce = self.data.get("bounce")
        if self.type == "email.bounced" and isinstance(bounce, dict) \
                and str(bounce.get("type", "")).lower() in ("permanent", "hard"):
            return "bounce", " ".join(str(bounce.get(k) or "") for k in ("subType", "message"))
        return None


def parse(event_id: str, payload: Any) -> ResendEvent:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise MalformedEvent("the body is not a Resend event (no `type`)")
    payload = _no_nul(payload)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent(f"{payload['type']}: no `data` object")
    created = _time(payload.get("created_at")) or _time(data.get("created_at")) \
        or datetime.now(UTC)
    email_id = data.get("email_id")
    to = data.get("to")
    addresses = [email.utils.parseaddr(str(a))[1].lower() for a in
                 (to if isinstance(to, list) else [to] if isinstance(to, str) else [])]
    return ResendEvent(event_id, payload["type"][:100], created,
                       str(email_id) if isinstance(email_id, str | int) else None,
                       [a for a in addresses if "@" in a], data, payload)


@dataclass
class Applied:
    id: str
    type: str
    duplicate: bool = False
    delivery_id: int | None = None
    user_id: str | None = None
    suppressed: list[str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "duplicate": self.duplicate,
                "delivery_id": self.delivery_id, "user_id": self.user_id,
                "suppressed": self.suppressed or []}


def apply(conn: psycopg.Connection[Row], event: ResendEvent) -> Applied:
    """Record the event and what it means, in one transaction; once per event id."""
    out = Applied(event.id, event.type)
    with conn.transaction():
        delivery = conn.execute(sql.load("email/delivery_by_message"),
                                {"message_id": event.email_id}).fetchone() \
            if event.email_id else None
        address = (delivery["to_address"] if delivery and delivery["to_address"]
                   else event.addresses[0] if event.addresses else None)
        new = conn.execute(sql.load("email/record_resend_event"), {
            "id": event.id, "type": event.type, "created": event.created,
            "email_id": event.email_id, "delivery_id": delivery["id"] if delivery else None,
            "user_id": delivery["user_id"] if delivery else None,
            "address": address.lower() if address else None,
            "data": Jsonb(event.raw)}).fetchone()
        if new is None:
            out.duplicate = True
            return out
        if delivery:
            out.delivery_id, out.user_id = int(delivery["id"]), str(delivery["user_id"])
        stop = event.suppression
        if stop:
            targets = [address.lower()] if delivery and address else event.addresses
            out.suppressed = [a for a in targets if suppression.add(
                conn, reason=stop[0], source=SOURCE, address=a, detail=stop[1].strip() or None,
                delivery_id=out.delivery_id)]
        if delivery:
            insert_events(conn, SOURCE, None, [EventRow(
                user_id=out.user_id, event=event.type, activity=False, occurred_at=event.created,
                data={"delivery_id": out.delivery_id, "loop": delivery["loop"],
                      "step": delivery["step"], "episode": delivery["episode"],
                      "template": delivery["template"], "variant": delivery["variant"],
                      "email_id": event.email_id, **_details(event)},
                external_id=event.id)])
    if out.suppressed:
        log.warning("resend: %s for %s: suppressed for all growth email", event.type,
                    ", ".join(out.suppressed))
    return out


def _details(event: ResendEvent) -> dict[str, Any]:
    """The parts of an event worth keeping beside it in skene.events (the click's link, the
    bounce's kind), not the recipient list or headers."""
    keys: tuple[str, ...] = ("click", "bounce", "failed")
    return {k: event.data[k] for k in keys if k in event.data}


def _no_nul(value: Any) -> Any:
    """jsonb refuses NUL in a string: keep the event, with U+FFFD in its place."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
