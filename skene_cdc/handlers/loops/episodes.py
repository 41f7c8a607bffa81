"""Episodes (what "once" means per loop type) and the engine's side of the delivery context.

- activation: episode "activation", once per user ever.
- retention: one per dormancy spell, "spell:<last activity in µs>" (skene.spell_key), and the
  cooldown since the loop's last email; `stopped`/`declining` name their own spells.
- milestone: "milestone:<event>:<count>", once per count.
A `query` condition may return an `episode` column to choose its own. Steps, variants and the
context's shape follow skene_cdc.handlers.decision, like every other loop type.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from skene_cdc.handlers import decision
from skene_cdc.handlers.base import Event
from skene_cdc.handlers.loops.plan import StepPlan


def default_episode(plan: StepPlan, spell: str | None) -> str:
    if plan.loop.type == "activation":
        base = "activation"
    elif plan.loop.type == "retention":
        base = spell or "spell:none"
    else:
        base = plan.loop.type
    return plan.step.episode(base)


def event_context(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"id": event.id, "table": event.table_name, "op": event.op, "event": event.event,
            "user_id": event.user_id,
            "occurred_at": event.occurred_at.astimezone(UTC).isoformat(), "data": event.data}


def delivery_context(plan: StepPlan, user: dict[str, Any], event: Event | None, episode: str,
                     variant: str | None) -> dict[str, Any]:
    """`user` is the condition's row joined with skene.users (the condition's columns win)."""
    return decision.delivery_context(plan.step, plan.loop, user=user, event=event_context(event),
                                     personalization=plan.action.personalization,
                                     episode=episode, variant=variant)
