"""`skene-cdc deliveries retry`: re-queue emails that failed, once their cause is fixed.

A delivery's personalization is frozen into its context at enqueue, so putting a dead row back
to 'pending' re-failed with the very config that broke it. Here a delivery that never reached
the provider (no render stored: the template or a personalization failed, or there was no
address) gets today's personalization for its loop and template from skene.yaml and is rendered
now, exactly as the sender will; one that still fails is left as it is, with the reason. A
delivery the provider refused keeps its stored render and idempotency key and is sent again
byte for byte, so a provider that had in fact accepted it answers with that email instead of
sending a second one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.loops import personalization_json
from skene_cdc.db import Row
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.actions import find_use
from skene_cdc.handlers.email.compose import render_delivery


@dataclass
class Retried:
    requeued: list[Row] = field(default_factory=list)
    rerendered: int = 0
    still_failing: list[tuple[Row, str]] = field(default_factory=list)


def retry(conn: psycopg.Connection[Row], config: Config, *, loop: str | None = None,
          template: str | None = None, user_id: str | None = None,
          ids: Sequence[int] | None = None) -> Retried:
    """Re-queue the matching dead (or failing) deliveries in one transaction."""
    out = Retried()
    templates = tpl.Templates(config.templates_dir())
    with conn.transaction():
        rows = conn.execute(sql.load("email/retry_candidates"), {
            "loop": loop, "template": template, "user_id": user_id,
            "ids": list(ids) if ids else None}).fetchall()
        unrendered = [r for r in rows if r["rendered"] is None]
        users = _fresh_users(conn, sorted({r["user_id"] for r in unrendered}))
        updates: list[tuple[int, int, dict[str, Any]]] = []
        for row in rows:
            use = find_use(config, row["template"], row["loop"])
            retries = use.loop.recovery.retries if use else max(row["attempts"] - 1, 0)
            context: dict[str, Any] = dict(row["context"] or {})
            if row["rendered"] is None:
                if use is not None:
                    context["personalization"] = personalization_json(
                        use.action.personalization)
                try:
                    render_delivery(config, templates, {**row, "context": context},
                                    users.get(row["user_id"]))
                except SkeneError as exc:
                    out.still_failing.append((row, exc.message))
                    continue
                out.rerendered += 1
            updates.append((row["id"], retries + 1, context))
            out.requeued.append(row)
        if updates:
            conn.execute(sql.load("email/requeue"), {
                "ids": [u[0] for u in updates], "max_attempts": [u[1] for u in updates],
                "contexts": [Jsonb(u[2]) for u in updates]})
    return out


def _fresh_users(conn: psycopg.Connection[Row], user_ids: list[str]) -> dict[str, Row]:
    if not user_ids:
        return {}
    return {str(u["user_id"]): u for u in conn.execute(sql.load("email/users_for"),
                                                       {"ids": user_ids}).fetchall()}


