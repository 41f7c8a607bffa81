"""One convention for what a loop decides about a user, whatever the loop type (the engine's
activation, retention and milestone loops, and the freemium gate): which step, which episode,
which variant, the context the sender renders with, and the state the enrolment records.

The funnel depends on it: skene.loop_enrolments joins a delivery to its enrolment on (loop, user,
step, episode), so every writer must number steps and name episodes the same way. A step is only
ever given to the database as `StepRef.number`; nothing else adds 1 to an index."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skene_cdc.config.loops import Loop, Personalization, Variant, personalization_json

NO_ADDRESS = "the user has no email address"


@dataclass(frozen=True)
class StepRef:
    """A step of a loop. `index` is its position in skene.yaml's `steps` (0-based); people, logs
    and every skene table see `number` (1-based)."""

    loop: str
    index: int

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"a step index is 0 or more, not {self.index}")

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def suffix(self) -> str:
        """Appended to episode keys: enrolments are unique per (loop, user, episode), so a later
        step of the same loop needs its own episodes."""
        return "" if self.index == 0 else f"#{self.number}"

    def episode(self, base: str) -> str:
        return base + self.suffix

    @property
    def label(self) -> str:
        return f"loop {self.loop!r} step {self.number}"


def sticky_fraction(loop: str, user_id: str) -> float:
    """A user's fixed point in [0, 1) for this loop: the same variant on every run, listener and
    episode (a user who got the discount email keeps getting the discount email)."""
    digest = hashlib.sha256(f"{loop}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_variant(loop: str, user_id: str, variants: Sequence[Variant]) -> Variant | None:
    if not variants:
        return None
    point = sticky_fraction(loop, user_id) * sum(v.weight for v in variants)
    for v in variants:
        point -= v.weight
        if point < 0:
            return v
    return variants[-1]


def enrolment_state(loop_type: str, to_address: str | None) -> str:
    """The enrolment's state once the loop acted: `failed` without an address (and no delivery),
    else the loop's goal decides (activation and milestones convert by getting here)."""
    if not to_address:
        return "failed"
    return "converted" if loop_type in ("activation", "milestone") else "sent"


def delivery_context(step: StepRef, loop: Loop, *, user: Mapping[str, Any],
                     event: Mapping[str, Any] | None,
                     personalization: Mapping[str, Personalization], episode: str,
                     variant: str | None) -> dict[str, Any]:
    """What the sender renders with (skene.deliveries.context): `user` as the loop decided on
    it, `event` JSON-able or None, `personalization` as skene.yaml says it at enqueue time."""
    return {
        "user": dict(user),
        "event": dict(event) if event is not None else None,
        "personalization": personalization_json(personalization),
        "loop": {"name": loop.name, "type": loop.type, "step": step.number,
                 "opinion": loop.opinion},
        "episode": episode,
        "variant": variant,
    }
