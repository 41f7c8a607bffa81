"""Of the users a loop decided on, who gets the email, decided in the same transaction:

1. Opt-outs first. A user who unsubscribed (from all growth email or from this loop), or whose
   address bounced or complained, is recorded `suppressed` with the reason and gets no delivery.
   Checked before the holdout, so suppressed users are in neither group and the two groups stay
   comparable.
2. The holdout (`holdout: 10%`): a sticky hash of (loop, user), independent of the variant's,
   puts the same share of users in the control group on every run and listener. Held-out users
   are enrolled `held_out` and followed for the loop's goal from the moment the email would have
   gone out; they get no email.
Transactional loops have neither."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg

from skene_cdc.config.loops import Loop
from skene_cdc.db import Row
from skene_cdc.handlers.email import suppression

if TYPE_CHECKING:
    from skene_cdc.handlers.loops.engine import Decision


def holdout_point(loop: str, user_id: str) -> float:
    """A user's fixed point in [0, 1) for this loop's holdout (salted apart from the variant's,
    so being held out says nothing about which template a user would have got)."""
    digest = hashlib.sha256(f"holdout\x1f{loop}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out(loop: Loop, user_id: str) -> bool:
    return bool(loop.holdout) and holdout_point(loop.name, user_id) < (loop.holdout or 0.0)


def screen(conn: psycopg.Connection[Row], loop: Loop, decisions: Sequence[Decision]) -> None:
    """Mark each decision `suppressed` (with why) or `holdout`, in place."""
    if loop.transactional:
        return
    addressed = [d for d in decisions if d.to_address]
    found = suppression.reasons(conn, [suppression.Candidate(d.user_id, d.to_address, loop.name)
                                       for d in addressed])
    for d, why in zip(addressed, found, strict=True):
        d.suppressed = why
    for d in addressed:
        d.holdout = d.suppressed is None and held_out(loop, d.user_id)
        if d.holdout:
            d.variant = None  # held out of every template
