"""One step, evaluated and acted on inside the caller's transaction: the enrolment changes and
the deliveries it enqueues commit together with whatever made the decision (the listener's
batch, a schedule firing), or not at all."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.handlers import outbox
from skene_cdc.handlers.base import Event
from skene_cdc.handlers.decision import NO_ADDRESS, enrolment_state, pick_variant
from skene_cdc.handlers.loops import audience
from skene_cdc.handlers.loops.conditions import NO_COOLDOWN, Candidate, Outcome, evaluate
from skene_cdc.handlers.loops.episodes import default_episode, delivery_context
from skene_cdc.handlers.loops.plan import StepPlan

log = logging.getLogger("skene.loops")
CHUNK = 5000


@dataclass
class Decision:
    user_id: str
    episode: str
    variant: str | None
    template: str
    to_address: str | None
    context: dict[str, Any]
    delivery_id: int | None = None
    holdout: bool = False            # in the control group: enrolled and followed, not emailed
    suppressed: str | None = None    # why the user may not get this (an opt-out, a bounce)

    @property
    def state(self) -> str:
        if self.suppressed:
            return "suppressed"
        if self.holdout:
            return "held_out"
        return enrolment_state(self.context["loop"]["type"], self.to_address)


@dataclass
class StepResult:
    plan: StepPlan
    evaluated: int = 0
    decisions: list[Decision] = field(default_factory=list)  # acted on (enrolment written)
    error: str | None = None  # the evaluation as a whole failed
    user_errors: dict[str, str] = field(default_factory=dict)

    @property
    def enqueued(self) -> int:
        return sum(1 for d in self.decisions if d.delivery_id is not None)


def fetch_users(conn: psycopg.Connection[Row], user_ids: Sequence[str]
                ) -> dict[str, tuple[dict[str, Any], str | None]]:
    out: dict[str, tuple[dict[str, Any], str | None]] = {}
    ids = sorted(set(user_ids))
    for i in range(0, len(ids), CHUNK):
        for r in conn.execute(sql.load("loops/users_context"), {"users": ids[i:i + CHUNK]}):
            out[r["user_id"]] = (r["row"], r["spell"])
    return out


def decide(conn: psycopg.Connection[Row], plan: StepPlan, candidates: Sequence[Candidate],
           events: Mapping[str, Event] | None = None,
           episodes: Mapping[str, str] | None = None) -> list[Decision]:
    """Who gets which template for which episode, with the context the sender renders."""
    users = fetch_users(conn, [c.user_id for c in candidates])
    decisions = []
    for c in candidates:
        base, spell = users.get(c.user_id, ({"user_id": c.user_id}, None))
        user = {**base, **c.row, "user_id": c.user_id}
        if episodes is not None:
            episode = episodes[c.user_id]
        elif c.episode is not None:
            episode = c.episode if plan.query is None else c.episode + plan.suffix
        else:
            episode = default_episode(plan, spell)
        variant = pick_variant(plan.loop.name, c.user_id, plan.action.variants)
        template = variant.template if variant else plan.action.template or ""
        vname = variant.template if variant else None
        event = (events or {}).get(c.user_id)
        email = user.get("email")
        decisions.append(Decision(c.user_id, episode, vname, template,
                                  str(email) if email else None,
                                  delivery_context(plan, user, event, episode, vname)))
    return decisions


def act(conn: psycopg.Connection[Row], config: Config, plan: StepPlan,
        decisions: Sequence[Decision], *, waiting: bool) -> list[Decision]:
    """Write the enrolments, then enqueue an email for each one that was really new."""
    acted: list[Decision] = []
    ordered = sorted(decisions, key=lambda d: d.user_id)
    audience.screen(conn, plan.loop, ordered)
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        params = {
            "loop": plan.loop.name, "step": plan.number,
            "users": [d.user_id for d in chunk], "episodes": [d.episode for d in chunk],
            "variants": [d.variant for d in chunk], "states": [d.state for d in chunk],
            "errors": [d.suppressed or (None if d.to_address else NO_ADDRESS) for d in chunk],
            "holdouts": [d.holdout for d in chunk],
            "contexts": [Jsonb({"template": d.template,
                                "event_id": (d.context["event"] or {}).get("id")})
                         for d in chunk],
            "cooldown": plan.loop.cooldown if plan.uses_cooldown else NO_COOLDOWN,
        }
        statement = sql.load("loops/enrol_met" if waiting else "loops/enrol_decided")
        written = {r["user_id"] for r in conn.execute(statement, params)}
        acted.extend(d for d in chunk if d.user_id in written)
    for d in acted:
        if d.to_address is None:
            log.warning("%s: user %s has no email address; recorded as failed", plan.label,
                        d.user_id)
    sendable = [d for d in acted if d.to_address is not None and d.state not in (
        "suppressed", "held_out")]
    for i in range(0, len(sendable), CHUNK):
        chunk = sendable[i:i + CHUNK]
        ids = outbox.enqueue_many(
            conn, step=plan.step, provider=plan.provider(config),
            recovery=plan.loop.recovery, growth=not plan.loop.transactional,
            items=[outbox.Outgoing(d.user_id, d.episode, d.template, d.to_address, d.context,
                                   d.variant) for d in chunk])
        for d in chunk:
            d.delivery_id = ids.get((d.user_id, d.episode))
    return acted


def run_step(conn: psycopg.Connection[Row], config: Config, plan: StepPlan, *,
             users: Sequence[str] | None = None, events: Mapping[str, Event] | None = None,
             horizon: datetime | None = None, due_only: bool = False) -> StepResult:
    """Evaluate `plan` for `users` (None: everyone, or every open enrolment) and act."""
    result = StepResult(plan)
    if plan.mode == "waiting":
        return _run_waiting(conn, config, plan, result, users, events, horizon, due_only)
    outcome = evaluate(conn, plan, users)
    result.evaluated = len(users) if users is not None else len(outcome.candidates)
    if None in outcome.errors:
        result.error = outcome.errors[None]
        log.warning("%s: evaluation failed: %s", plan.label, result.error)
        return result
    _log_user_errors(plan, outcome, result)
    decisions = decide(conn, plan, outcome.candidates, events)
    result.decisions = act(conn, config, plan, decisions, waiting=False)
    return result


def _run_waiting(conn: psycopg.Connection[Row], config: Config, plan: StepPlan,
                 result: StepResult, users: Sequence[str] | None,
                 events: Mapping[str, Event] | None, horizon: datetime | None,
                 due_only: bool) -> StepResult:
    rows = conn.execute(sql.load("loops/open_enrolments"), {
        "loop": plan.loop.name, "step": plan.number,
        "users": sorted(set(users)) if users is not None else None,
        "horizon": horizon or datetime.now().astimezone(), "due_only": due_only}).fetchall()
    if not rows:
        return result
    episodes = {r["user_id"]: r["episode"] for r in rows}
    result.evaluated = len(episodes)
    outcome = evaluate(conn, plan, list(episodes))
    if None in outcome.errors:
        result.error = outcome.errors[None]
        outcome.errors = {uid: result.error for uid in episodes}
    _log_user_errors(plan, outcome, result)
    if outcome.errors:
        failed = sorted(u for u in outcome.errors if u is not None)
        recovery = plan.loop.recovery
        conn.execute(sql.load("loops/record_failed"), {
            "loop": plan.loop.name, "step": plan.number, "users": failed,
            "errors": [outcome.errors[u][:2000] for u in failed],
            "retries": recovery.retries, "backoff": recovery.backoff,
            "base_delay": recovery.base_delay, "max_delay": recovery.max_delay})
    met = [c for c in outcome.candidates if c.user_id in episodes]
    decisions = decide(conn, plan, met, events, episodes)
    result.decisions = act(conn, config, plan, decisions, waiting=True)
    unmet = sorted(set(episodes) - {c.user_id for c in met} - set(outcome.errors))
    if unmet:
        conn.execute(sql.load("loops/record_evaluated"),
                     {"loop": plan.loop.name, "step": plan.number, "users": unmet})
    return result


def _log_user_errors(plan: StepPlan, outcome: Outcome, result: StepResult) -> None:
    for uid, error in outcome.errors.items():
        if uid is not None:
            result.user_errors[uid] = error
    if result.user_errors:
        first = next(iter(result.user_errors.items()))
        log.warning("%s: evaluation failed for %d user(s), e.g. %s: %s", plan.label,
                    len(result.user_errors), *first)
