"""Episodes (what "once" means per loop type), sticky variants, and the delivery context.

- activation: episode "activation", once per user ever.
- retention: one per dormancy spell, "spell:<last activity in µs>" (skene.spell_key), and the
  cooldown since the loop's last email; `stopped`/`declining` name their own spells.
- milestone: "milestone:<event>:<count>", once per count.
A `query` condition may return an `episode` column to choose its own.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import Any

from skene_cdc.config.loops import Variant
from skene_cdc.handlers.base import Event
from skene_cdc.handlers.loops.plan import StepPlan


def default_episode(plan: StepPlan, spell: str | None) -> str:
    if plan.loop.type == "activation":
        base = "activation"
    elif plan.loop.type == "retention":
        base = spell or "spell:none"
    else:
        base = plan.loop.type
    return base + plan.suffix


def sticky_fraction(loop: str, user_id: str) -> float:
    """A user's fixed point in [0, 1) for this loop: the same variant on every run and listener."""
    digest = hashlib.sha256(f"{loop}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_variant(plan: StepPlan, user_id: str) -> Variant | None:
    variants = plan.action.variants
    if not variants:
        return None
    point = sticky_fraction(plan.loop.name, user_id) * sum(v.weight for v in variants)
    for v in variants:
        point -= v.weight
        if point < 0:
            return v
    return variants[-1]


def event_context(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"id": event.id, "table": event.table_name, "op": event.op, "event": event.event,
            "user_id": event.user_id,
            "occurred_at": event.occurred_at.astimezone(UTC).isoformat(), "data": event.data}


def delivery_context(plan: StepPlan, user: dict[str, Any], event: Event | None, episode: str,
                     variant: str | None) -> dict[str, Any]:
    """What the sender renders with: `user` is the condition's row joined with skene.users (the
    condition's columns win), `personalization` the raw strings from skene.yaml."""
    return {
        "user": user,
        "event": event_context(event),
        "personalization": dict(plan.action.personalization),
        "loop": {"name": plan.loop.name, "type": plan.loop.type, "step": plan.number,
                 "opinion": plan.loop.opinion},
        "episode": episode,
        "variant": variant,
    }
