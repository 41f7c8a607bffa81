"""The `loops` service of `skene-cdc listen`: cron firings, failed-firing retries, and the sweep
(expired enrolments, due evaluation retries).

Exactly one listener runs a firing: it takes an advisory lock on (loop, step, fire time) and
claims a row in skene.schedule_firings, in the same transaction as the evaluation and the
deliveries it enqueues. A crash rolls all of it back and the next tick (any listener) runs it.
Only the most recent due firing is ever considered, so a listener that was down for a week runs
one catch-up firing per step, not seven; and only a slot that fell after the loop (or its
current definition) was registered, so the first firing of a new loop is its next slot (or an
explicit `loops run`), never a "catch-up" for a time before skene ran it."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from croniter import croniter

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.loops import ScheduleTrigger
from skene_cdc.db import Row, connect
from skene_cdc.handlers.loops.engine import StepResult, run_step
from skene_cdc.handlers.loops.handler import register_loops
from skene_cdc.handlers.loops.plan import StepPlan
from skene_cdc.handlers.outbox import backoff_delay
from skene_cdc.service import run_with_reconnect

log = logging.getLogger("skene.loops")

SWEEP_EVERY = 30.0  # seconds: expiry, retries, and re-checking firings another listener dropped
BACKLOG_WAIT = timedelta(minutes=10)  # a stuck consumer delays a firing this long, no longer


def _cron(plan: StepPlan) -> ScheduleTrigger:
    assert isinstance(plan.trigger, ScheduleTrigger)
    return plan.trigger


def previous_fire(plan: StepPlan, now: datetime) -> datetime:
    """The latest firing at or before `now`, in UTC."""
    trig = _cron(plan)
    local = (now + timedelta(seconds=1)).astimezone(ZoneInfo(trig.timezone))
    prev: datetime = croniter(trig.cron, local).get_prev(datetime)
    return prev.astimezone(UTC)


def next_fire(plan: StepPlan, now: datetime) -> datetime:
    trig = _cron(plan)
    nxt: datetime = croniter(trig.cron, now.astimezone(ZoneInfo(trig.timezone))).get_next(datetime)
    return nxt.astimezone(UTC)


class LoopScheduler:
    name = "loops"

    def __init__(self, url: str, config: Config, plans: list[StepPlan],
                 listener_id: str | None = None) -> None:
        self.url = url
        self.config = config
        self.scheduled = [p for p in plans if p.mode == "schedule"]
        self.waiting = [p for p in plans if p.mode == "waiting"]
        self.loops = sorted({p.loop.name for p in plans})
        self.listener_id = listener_id or f"{socket.gethostname()}:{os.getpid()}"
        self.postponed = False
        self._waiting: dict[tuple[str, int, datetime], datetime] = {}
        self._defined: dict[str, datetime] | None = None  # loop -> its definition's start

    # -- firings -----------------------------------------------------------------------------

    def fire(self, conn: psycopg.Connection[Row], plan: StepPlan, fire_time: datetime, *,
             manual: bool = False) -> StepResult | None:
        """Run one firing unless another listener has it or it already ran; None then."""
        with conn.transaction():
            key = f"skene-firing\x1f{plan.loop.name}\x1f{plan.number}\x1f{fire_time.isoformat()}"
            lock = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS ok",
                                [key]).fetchone()
            if not lock or not lock["ok"]:
                return None
            claim = conn.execute(sql.load("loops/claim_firing"), {
                "loop": plan.loop.name, "step": plan.number, "fire_time": fire_time,
                "manual": manual, "claimed_by": self.listener_id}).fetchone()
            if claim is None:
                return None
            return self._run_firing(conn, plan, claim["id"], claim["attempts"])

    def _run_firing(self, conn: psycopg.Connection[Row], plan: StepPlan, firing_id: int,
                    attempts: int) -> StepResult:
        result = run_step(conn, self.config, plan)
        recovery = plan.loop.recovery
        state, retry_at = "done", None
        if result.error is not None:
            if attempts > recovery.retries:
                state = "dead"
            else:
                state = "failed"
                retry_at = datetime.now(UTC) + backoff_delay(
                    recovery.backoff, attempts, recovery.base_delay, recovery.max_delay)
        conn.execute(sql.load("loops/finish_firing"), {
            "id": firing_id, "state": state, "attempts": attempts,
            "matched": len(result.decisions), "enqueued": result.enqueued,
            "error": result.error[:2000] if result.error else None, "retry_at": retry_at,
            "claimed_by": self.listener_id})
        log.info("%s: firing %s: %d matched, %d enqueued%s", plan.label, state,
                 len(result.decisions), result.enqueued,
                 f" ({result.error})" if result.error else "")
        return result

    def retry_failed(self, conn: psycopg.Connection[Row]) -> int:
        done = 0
        by_key = {(p.loop.name, p.number): p for p in self.scheduled}
        while True:
            with conn.transaction():
                row = conn.execute(sql.load("loops/claim_retry"),
                                   {"loops": self.loops}).fetchone()
                if row is None:
                    return done
                plan = by_key.get((row["loop"], row["step"]))
                if plan is None:  # the step left skene.yaml; nothing to retry with
                    conn.execute(sql.load("loops/finish_firing"), {
                        "id": row["id"], "state": "dead", "attempts": row["attempts"],
                        "matched": None, "enqueued": None, "retry_at": None,
                        "error": "the step is no longer in skene.yaml",
                        "claimed_by": self.listener_id})
                    continue
                self._run_firing(conn, plan, row["id"], row["attempts"] + 1)
                done += 1

    # -- the sweep ---------------------------------------------------------------------------

    def sweep(self, conn: psycopg.Connection[Row]) -> int:
        done = 0
        with conn.transaction():
            done += conn.execute(sql.load("loops/expire"),
                                 {"loops": sorted({p.loop.name for p in self.waiting})}).rowcount
        for plan in self.waiting:
            with conn.transaction():
                done += len(run_step(conn, self.config, plan, due_only=True).decisions)
        return done

    # -- Service -----------------------------------------------------------------------------

    def tick(self, conn: psycopg.Connection[Row], now: datetime | None = None, *,
             wait_for_consumer: bool = True) -> int:
        now = now or datetime.now(UTC)
        done = 0
        self.postponed = False
        defined = self._definitions(conn) if self.scheduled else {}
        for plan in self.scheduled:
            fire_time = previous_fire(plan, now)
            since = defined.get(plan.loop.name)
            if since is None or fire_time < since:
                continue  # a slot from before this definition existed: never caught up
            if wait_for_consumer and self._behind(conn, plan, fire_time, now):
                self.postponed = True
                continue
            if self.fire(conn, plan, fire_time) is not None:
                done += 1
        done += self.retry_failed(conn)
        done += self.sweep(conn)
        return done

    def _definitions(self, conn: psycopg.Connection[Row]) -> dict[str, datetime]:
        """Since when each loop has had its current definition (registering them if `start`
        has not: a scheduler never fires a loop skene.loops does not know)."""
        if self._defined is None:
            with conn.transaction():
                register_loops(conn, self.config)
                rows = conn.execute(sql.load("loops/registered_at"),
                                    {"loops": self.loops}).fetchall()
            self._defined = {r["name"]: r["updated_at"] for r in rows}
        return self._defined

    def _behind(self, conn: psycopg.Connection[Row], plan: StepPlan, fire_time: datetime,
                now: datetime) -> bool:
        """Wait while events captured before now are unprocessed: the rollups the conditions
        read would be stale (a user active since would look dormant)."""
        with conn.transaction():
            row = conn.execute(sql.load("loops/backlog_before"),
                               {"cursor": "main", "before": now}).fetchone()
        key = (plan.loop.name, plan.number, fire_time)
        if not row or not row["pending"]:
            self._waiting.pop(key, None)
            return False
        since = self._waiting.setdefault(key, now)
        if now - since > BACKLOG_WAIT:
            log.warning("%s: the event consumer is behind; running the %s firing anyway",
                        plan.label, fire_time.isoformat())
            return False
        return True

    def start(self, conn: psycopg.Connection[Row]) -> int:
        """Once per process: mirror the loops into skene.loops, enrol existing users where a
        step asks for it (`enroll: existing|all`)."""
        self._defined = None  # read again after registering: a changed loop starts anew
        with conn.transaction():
            register_loops(conn, self.config)
            enrolled = 0
            for plan in self.waiting:
                if plan.loop.enroll != "new" and plan.loop.type == "activation":
                    enrolled += conn.execute(sql.load("loops/enrol_existing"), {
                        "loop": plan.loop.name, "step": plan.number,
                        "episode": "activation" + plan.suffix, "within": plan.loop.within,
                        "existing_only": plan.loop.enroll == "existing"}).rowcount
        return enrolled

    def drain(self) -> int:
        with connect(self.url) as conn:
            done = self.start(conn)
            # `listen --once` drained the consumer just before: no need to wait for it.
            return done + self.tick(conn, wait_for_consumer=False)

    def run(self, stop: threading.Event) -> None:
        run_with_reconnect(self.name, lambda: self._run(stop), stop)

    def _run(self, stop: threading.Event) -> None:
        with connect(self.url) as conn:
            self.start(conn)
            while not stop.is_set():
                try:
                    self.tick(conn)
                except psycopg.Error as exc:
                    if conn.closed or conn.broken:
                        raise
                    log.error("loops: tick failed, will retry: %s", exc)
                now = datetime.now(UTC)
                wake = now + timedelta(seconds=1 if self.postponed else SWEEP_EVERY)
                for plan in self.scheduled:
                    wake = min(wake, next_fire(plan, now))
                stop.wait(max(0.05, (wake - datetime.now(UTC)).total_seconds()))
