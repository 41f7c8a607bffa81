"""The listener side of the loops: per batch of captured events (inside the batch transaction,
after the consumer brought the rollups up to date), record conversions, enrol triggered users and
re-evaluate the ones a change could have affected."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.types import as_json
from skene_cdc.db import Row
from skene_cdc.handlers.base import Event
from skene_cdc.handlers.loops.engine import run_step
from skene_cdc.handlers.loops.plan import StepPlan

log = logging.getLogger("skene.loops")

MATCH_CACHE = 10_000  # event kinds remembered per handler


def register_loops(conn: psycopg.Connection[Row], config: Config) -> None:
    """skene.loops mirrors skene.yaml, so psql views know each loop's type."""
    for loop in config.loops:
        conn.execute(sql.load("loops/register_loop"), {
            "name": loop.name, "type": loop.type, "opinion": loop.opinion,
            "definition": Jsonb(as_json(loop))})


class LoopHandler:
    name = "loops"

    def __init__(self, config: Config, plans: Sequence[StepPlan]) -> None:
        self.config = config
        self.plans = [p for p in plans if p.mode != "schedule"]
        self.retention = [lp for lp in config.loops if lp.type == "retention"]
        self._registered = False
        self._match_cache: dict[tuple[object, ...], tuple[bool, bool]] = {}

    def handle(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None:
        if not self._registered:
            register_loops(conn, self.config)
            self._registered = True
        # Backfilled history feeds the rollups (counts, last activity) but is not news: it must
        # not enrol, trigger or convert anyone as if it had just happened.
        live = [e for e in events if not e.backfilled]
        if not live:
            return
        self._conversions(conn, live)
        for plan in self.plans:
            self._step(conn, plan, live)

    def _conversions(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None:
        if not self.retention:
            return
        active = sorted({(e.user_id, e.occurred_at) for e in events
                         if e.activity and e.user_id is not None}, key=lambda t: t[0] or "")
        if not active:
            return
        waiting: dict[str, set[str]] = {}
        for row in conn.execute(sql.load("loops/awaiting_goal"), {
                "users": sorted({a[0] for a in active}),
                "loops": [lp.name for lp in self.retention]}):
            waiting.setdefault(row["loop"], set()).add(row["user_id"])
        for loop in self.retention:
            mine = [a for a in active if a[0] in waiting.get(loop.name, ())]
            if mine:
                conn.execute(sql.load("loops/convert"), {
                    "loop": loop.name, "window": loop.goal_window,
                    "users": [a[0] for a in mine], "ats": [a[1] for a in mine]})

    def _step(self, conn: psycopg.Connection[Row], plan: StepPlan,
              events: Sequence[Event]) -> None:
        triggered: dict[str, Event] = {}
        touched: dict[str, Event] = {}
        for e in events:
            trig, reads = self._matches(plan, e)
            if trig:
                triggered.setdefault(e.user_id or "", e)
            if reads:
                touched[e.user_id or ""] = e  # the latest change is the one that counts
        if plan.mode == "immediate":
            if triggered:
                run_step(conn, self.config, plan, users=sorted(triggered), events=triggered)
            return
        if triggered and self.config_enrols(plan):
            users = sorted(triggered)
            conn.execute(sql.load("loops/enrol_triggered"), {
                "loop": plan.loop.name, "step": plan.number, "suffix": plan.suffix,
                "spell": plan.loop.type == "retention",
                "episode": "activation" if plan.loop.type == "activation" else plan.loop.type,
                "within": plan.loop.within, "users": users,
                "ats": [triggered[u].occurred_at for u in users],
                "event_ids": [triggered[u].id for u in users]})
        candidates = {**triggered, **touched}
        if not candidates:
            return
        horizon = min([e.occurred_at for e in candidates.values()] + [datetime.now(UTC)])
        run_step(conn, self.config, plan, users=sorted(candidates), events=candidates,
                 horizon=horizon)

    def _matches(self, plan: StepPlan, e: Event) -> tuple[bool, bool]:
        """(triggers the step, could change its condition) for this event. Both depend only on
        the event's kind, never on its row, so they are worked out once per kind: a batch of
        thousands of events has a handful of kinds."""
        key = (id(plan), e.user_id is None, e.event, e.op, e.table_name, e.activity)
        hit = self._match_cache.get(key)
        if hit is None:
            hit = (plan.triggered_by(e), plan.reads(e))
            if len(self._match_cache) > MATCH_CACHE:  # event names are app data: stay bounded
                self._match_cache.clear()
            self._match_cache[key] = hit
        return hit

    @staticmethod
    def config_enrols(plan: StepPlan) -> bool:
        return plan.loop.enroll in ("new", "all")
