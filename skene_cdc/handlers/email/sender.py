"""The email sender: drains skene.deliveries, renders, sends with the delivery's idempotency key.

One batch: claim due rows (FOR UPDATE SKIP LOCKED) and mark them 'sending' with a lease, commit;
render and send them `concurrency` at a time; record every outcome of the batch in two
statements, commit. A sender that dies between "provider accepted" and "recorded" leaves rows in
'sending'; when the lease runs out any sender retries them with the SAME idempotency key, and the
provider answers with the email it already accepted. Nothing is lost; nothing is sent twice.

Wake-ups: an AFTER INSERT statement trigger NOTIFYs 'skene_deliveries' (migration 0004). Only
the listener's batch transactions enqueue, so this NOTIFY never sits on the app's write path;
between wake-ups the sender sleeps exactly until the next row is due (a retry's backoff or a
lease), capped at the poll interval, so retries need no busy polling either.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row, connect
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.checks import preflight
from skene_cdc.handlers.email.compose import decided_user, render_delivery
from skene_cdc.handlers.email.pacing import Screen
from skene_cdc.handlers.email.providers import (
    PROVIDERS,
    Message,
    Provider,
    SendError,
    build_provider,
)
from skene_cdc.handlers.email.unsubscribe import Links
from skene_cdc.handlers.outbox import backoff_delay
from skene_cdc.service import run_with_reconnect

log = logging.getLogger("skene.email")

CHANNEL = "skene_deliveries"
JITTER = 0.2  # a retry waits its backoff plus up to 20%, so a failed burst does not retry as one


@dataclass
class Outcome:
    row: Row
    message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    rate_limited: bool = False
    held: bool = False  # not sent now: suppressed, deferred or expired (recorded at the claim)


class Sender:
    name = "email"

    def __init__(self, url: str, config: Config, *, batch_size: int | None = None,
                 concurrency: int | None = None, lease: float | None = None,
                 poll_interval: float | None = None, env: Mapping[str, str] | None = None,
                 check: bool = True) -> None:
        self.url = url
        self.config = config
        self.batch_size = batch_size or config.email.batch_size
        self.concurrency = concurrency or config.email.concurrency
        self.lease = lease or config.email.lease.total_seconds()
        self.poll_interval = poll_interval or config.capture.poll_interval.total_seconds()
        # A whole batch must finish well inside its lease, or another sender would retry rows
        # still in flight (harmless with idempotency keys, but wasteful).
        rounds = math.ceil(self.batch_size / self.concurrency)
        self.timeout = min(30.0, max(1.0, self.lease / (2 * rounds)))
        self.env = os.environ if env is None else env
        self.templates = tpl.Templates(config.templates_dir())
        self._providers: dict[str, Provider] = {}
        self._throttled: dict[str, float] = {}  # provider -> monotonic time a 429 lifts
        self._lock = threading.Lock()
        self.sent = 0
        # This sender's token for its claims; a session holding the matching advisory lock
        # (hold_owner) shows it is alive. A new one per session.
        self.owner = 0
        if check:
            preflight(config, self.templates, self.env)
        self.links = Links(config, self.env)
        self.screen = Screen(config)

    # -- one batch ---------------------------------------------------------------------------

    def process_batch(self, conn: psycopg.Connection[Row],
                      pool: ThreadPoolExecutor | None = None) -> int:
        """Claim, render, send and record one batch; return how many deliveries it held."""
        outcomes, ready = self._claim(conn)
        if not outcomes:
            return 0
        if pool is not None and len(ready) > 1:
            list(pool.map(lambda job: self._send(*job), ready))
        else:
            for job in ready:
                self._send(*job)
        self._record(conn, outcomes)
        return len(outcomes)

    def _claim(self, conn: psycopg.Connection[Row]
               ) -> tuple[list[Outcome], list[tuple[Outcome, Provider, Message]]]:
        """In one transaction: claim due rows, render those not rendered yet, and store the
        renders, so that whatever happens next, every retry sends exactly these bytes."""
        params = {"limit": self.batch_size, "lease": self.lease, "owner": self.owner}
        outcomes: list[Outcome] = []
        ready: list[tuple[Outcome, Provider, Message]] = []
        with conn.transaction():
            conn.execute(sql.load("email/bury_crashers"))
            rows = conn.execute(sql.load("email/claim_expired"), params).fetchall()
            reclaimed = {r["id"] for r in rows}
            if len(rows) < self.batch_size:
                rows += conn.execute(sql.load("email/claim_due"),
                                     {**params, "limit": self.batch_size - len(rows)}).fetchall()
            if not rows:
                return [], []
            # Opt-outs, quiet hours and frequency caps, decided and recorded in this transaction.
            held = self.screen.apply(conn, rows, reclaimed)
            for row in rows:
                if row["id"] in held:
                    outcomes.append(Outcome(row, held=True))
            rows = [r for r in rows if r["id"] not in held]
            # A loop normally stores the user's full row (the condition joined with skene.users)
            # in the context; only rows without one are completed from skene.users, because the
            # view's text user_id is not indexable on the app's table.
            users: dict[str, Row] = {}
            ids = sorted({r["user_id"] for r in rows
                          if r["rendered"] is None and decided_user(r).get("email") is None})
            if ids:
                for u in conn.execute(sql.load("email/users_for"), {"ids": ids}).fetchall():
                    users[str(u["user_id"])] = u
            renders: list[tuple[int, dict[str, Any]]] = []
            for row in rows:
                outcome = Outcome(row)
                outcomes.append(outcome)
                try:
                    provider = self._provider(row["provider"])
                    if row["rendered"] is None:
                        rendered = self._render(row, users.get(row["user_id"]))
                        row["rendered"] = rendered
                        renders.append((row["id"], rendered))
                    ready.append((outcome, provider, _message(row)))
                except SendError as exc:
                    outcome.error, outcome.retryable = str(exc), exc.retryable
                except SkeneError as exc:
                    # A template or data problem: retrying cannot fix it, so it fails loudly now.
                    outcome.error = str(exc)
            if renders:
                conn.execute(sql.load("email/store_rendered"), {
                    "ids": [i for i, _ in renders], "rendered": [Jsonb(r) for _, r in renders]})
        return outcomes, ready

    def _provider(self, name: str) -> Provider:
        if name not in PROVIDERS:
            raise SkeneError(f"unknown email provider {name!r} on this delivery",
                             hint=f"Use one of {', '.join(PROVIDERS)}")
        provider = self._providers.get(name)
        if provider is None:
            try:
                provider = build_provider(name, timeout=self.timeout, env=self.env)
            except SkeneError as exc:
                # Missing credentials are the operator's to fix, not the email's: retry.
                raise SendError(str(exc), retryable=True) from None
            self._providers[name] = provider
        return provider

    def _render(self, row: Row, fresh_user: Row | None) -> dict[str, Any]:
        return render_delivery(self.config, self.templates, row, fresh_user, self.links)

    def _send(self, outcome: Outcome, provider: Provider, message: Message) -> None:
        with self._lock:
            lifts = self._throttled.get(provider.name, 0.0)
        wait = lifts - time.monotonic()
        if wait > 0:
            # The provider said "slow down" moments ago: do not spend this row's attempt.
            outcome.error = "not sent: the provider is rate limiting (429); waiting as told"
            outcome.retryable, outcome.rate_limited, outcome.retry_after = True, True, wait
            return
        try:
            outcome.message_id = provider.send(message)
        except SendError as exc:
            outcome.error, outcome.retryable = str(exc), exc.retryable
            outcome.rate_limited, outcome.retry_after = exc.rate_limited, exc.retry_after
            if exc.rate_limited and exc.retry_after:
                with self._lock:
                    self._throttled[provider.name] = time.monotonic() + exc.retry_after
        except Exception as exc:  # noqa: BLE001 - a provider bug must not kill the listener
            outcome.error, outcome.retryable = f"{type(exc).__name__}: {exc}", True

    def _record(self, conn: psycopg.Connection[Row], outcomes: list[Outcome]) -> None:
        sent = [o for o in outcomes if o.message_id is not None]
        failed = [o for o in outcomes if o.message_id is None and not o.held]
        plan = [self._retry_plan(o) for o in failed]
        with conn.transaction():
            if sent:
                conn.execute(sql.load("email/mark_sent"), {
                    "ids": [o.row["id"] for o in sent],
                    "message_ids": [o.message_id for o in sent]})
            if failed:
                conn.execute(sql.load("email/mark_failed"), {
                    "ids": [o.row["id"] for o in failed],
                    "attempts": [o.row["attempts"] for o in failed],
                    "new_attempts": [p[0] for p in plan],
                    "states": [p[1] for p in plan],
                    "delays": [p[2] for p in plan],
                    "errors": [(o.error or "unknown error")[:2000] for o in failed]})
        self.sent += len(sent)
        log.debug("email: batch of %d: %d sent, %d failed", len(outcomes), len(sent), len(failed))
        for o, (_, state, delay) in zip(failed, plan, strict=True):
            r = o.row
            if state == "dead":
                log.error("delivery %s (%s, user %s) is dead after %s attempt(s): %s",
                          r["id"], r["loop"], r["user_id"], r["attempts"], o.error)
            else:
                log.warning("delivery %s (%s, user %s) attempt %s/%s failed; retrying in %.1fs: "
                            "%s", r["id"], r["loop"], r["user_id"], r["attempts"],
                            r["max_attempts"], delay, o.error)

    @staticmethod
    def _retry_plan(o: Outcome) -> tuple[int, str, float]:
        """(attempts to record, next state, seconds until the next attempt)."""
        r = o.row
        attempts = r["attempts"]
        if o.rate_limited:
            # A 429 is the provider pacing us, not this email failing: the attempt is refunded,
            # and the row waits at least what Retry-After said.
            base = o.retry_after if o.retry_after is not None else \
                r["base_delay"].total_seconds()
            return attempts - 1, "pending", base * (1 + JITTER * random.random())
        if not o.retryable or attempts >= r["max_attempts"]:
            return attempts, "dead", 0.0
        delay = backoff_delay(r["backoff"], attempts, r["base_delay"], r["max_delay"])
        return attempts, "pending", delay.total_seconds() * (1 + JITTER * random.random())

    # -- Service -----------------------------------------------------------------------------

    def drain(self) -> int:
        """Send everything due now (`listen --once`); return how many were sent."""
        before = self.sent
        with connect(self.url) as conn, connect(self.url, autocommit=True) as alive, \
                self._pool() as pool:
            self._hold_owner(alive)
            while self.process_batch(conn, pool):
                pass
        return self.sent - before

    def _hold_owner(self, session: psycopg.Connection[Row]) -> None:
        self.owner = random.randint(1, 2**31 - 1)
        session.execute(sql.load("email/hold_owner"), {"owner": self.owner})

    def run(self, stop: threading.Event) -> None:
        run_with_reconnect(self.name, lambda: self._run(stop), stop)

    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="skene-send")

    def _run(self, stop: threading.Event) -> None:
        with connect(self.url) as conn, connect(self.url, autocommit=True) as wake, \
                self._pool() as pool:
            self._hold_owner(wake)
            wake.execute(f"LISTEN {CHANNEL}")
            while not stop.is_set():
                try:
                    n = self.process_batch(conn, pool)
                except psycopg.Error as exc:
                    if conn.closed or conn.broken:
                        raise
                    log.error("email: batch failed and will be retried: %s", exc)
                    stop.wait(1.0)
                    continue
                if n:
                    continue
                row = conn.execute(sql.load("email/next_due")).fetchone()
                conn.commit()
                due = row["wait"] if row else None
                timeout = self.poll_interval if due is None else min(self.poll_interval,
                                                                     max(due, 0.01))
                self._wait(wake, stop, timeout)

    @staticmethod
    def _wait(wake: psycopg.Connection[Row], stop: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for _ in wake.notifies(timeout=min(left, 0.25), stop_after=1):
                return


def _message(row: Row) -> Message:
    r = row["rendered"]
    return Message(sender=r["from"], to=r["to"], subject=r["subject"], html=r["html"],
                   text=r.get("text"), reply_to=r.get("reply_to"),
                   idempotency_key=row["idempotency_key"],
                   headers=tuple((r.get("headers") or {}).items()))
