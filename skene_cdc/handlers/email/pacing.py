"""What the sender checks in the transaction that claims deliveries, before anything is sent:

1. **Opt-outs and suppressions** (every growth delivery, retries too): a user who unsubscribed,
   or an address that bounced or complained, since the loop decided. The delivery becomes
   `suppressed` with the reason.
2. **Quiet hours** (a growth email's first send): due at night on the user's clock, it waits
   for the morning (`email.quiet_hours`).
3. **Frequency caps** (a growth email's first send): at most `max` growth emails per user in any
   `per` (`email.frequency`), across loops. Under a per-user transaction lock the sender counts
   the slots taken and ranks the user's due emails by loop `priority` (then age); the ones that
   do not fit wait until a slot frees. A slot is taken (`counted_at`) in the same transaction,
   so two listeners can never both send past a cap.

A delivery held past its loop's `goal_window` after it was enqueued is `expired`: its loop could
no longer credit it. Transactional loops (`transactional: true`) skip all three. A retry, or a
delivery whose sender died mid-send, already holds its slot and is not paced again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.loops import Loop
from skene_cdc.config.models import FrequencyCap
from skene_cdc.db import Row
from skene_cdc.handlers.email import quiet, suppression

log = logging.getLogger("skene.email")
DEFAULT_GOAL_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Hold:
    state: str                      # suppressed | expired | pending (deferred until `until`)
    reason: str
    until: datetime | None = None


class Screen:
    def __init__(self, config: Config,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.loops: dict[str, Loop] = {lp.name: lp for lp in config.loops}
        self.caps: list[FrequencyCap] = list(config.email.frequency)
        self.quiet = config.email.quiet_hours
        self.default_zone = ZoneInfo(self.quiet.timezone) if self.quiet else ZoneInfo("UTC")
        self.clock = clock

    def growth(self, loop: str) -> bool:
        found = self.loops.get(loop)
        return not (found and found.transactional)

    def priority(self, loop: str) -> int:
        found = self.loops.get(loop)
        return found.priority if found else 0

    def deadline(self, row: Mapping[str, Any]) -> datetime:
        found = self.loops.get(row["loop"])
        created: datetime = row["created_at"]
        return created + (found.goal_window if found else DEFAULT_GOAL_WINDOW)

    # -- the screen --------------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection[Row], rows: Sequence[Row],
              reclaimed: set[int] | frozenset[int] = frozenset()) -> dict[int, Hold]:
        """Decide and record, in the caller's (claim) transaction, which claimed rows must not
        be sent now. `reclaimed`: rows whose sender died mid-send (the provider may already
        have accepted them; they are finished, not screened)."""
        growth = [r for r in rows if self.growth(r["loop"]) and r["id"] not in reclaimed]
        holds: dict[int, Hold] = {}
        if not growth:
            return holds
        users = self._users(conn, growth)
        found = suppression.reasons(conn, [
            suppression.Candidate(r["user_id"], _address(r, users.get(r["user_id"])), r["loop"])
            for r in growth])
        for r, why in zip(growth, found, strict=True):
            if why:
                holds[r["id"]] = Hold("suppressed", why)
        fresh = [r for r in growth if r["id"] not in holds and r["counted_at"] is None]
        if self.quiet and fresh:
            self._quiet_hours(fresh, users, holds)
        if self.caps:
            self._caps(conn, [r for r in fresh if r["id"] not in holds], holds)
        if holds:
            self._record(conn, [r for r in growth if r["id"] in holds], holds)
        return holds

    def _users(self, conn: psycopg.Connection[Row], rows: Sequence[Row]) -> dict[str, Row]:
        """skene.users rows, only for what the delivery does not say itself: an address to check
        against suppressions, or the time zone for quiet hours."""
        tz_column = self.config.app.users.timezone
        need = sorted({r["user_id"] for r in rows if _address(r, None) is None
                       or (self.quiet and tz_column and r["counted_at"] is None)})
        if not need:
            return {}
        return {str(u["user_id"]): u for u in
                conn.execute(sql.load("email/users_for"), {"ids": need}).fetchall()}

    def _quiet_hours(self, rows: Sequence[Row], users: Mapping[str, Row],
                     holds: dict[int, Hold]) -> None:
        assert self.quiet is not None
        q, column = self.quiet, self.config.app.users.timezone
        now = self.clock()
        for r in rows:
            zone = quiet.zone_or((users.get(r["user_id"]) or {}).get(column) if column else None,
                                 self.default_zone)
            until = quiet.release(now, zone, q.start, q.end)
            if until is not None:
                holds[r["id"]] = self._defer(
                    r, until, f"quiet hours {q.start:%H:%M}-{q.end:%H:%M} {zone.key}: waits "
                              f"until {until.astimezone(zone):%Y-%m-%d %H:%M %Z}")

    def _caps(self, conn: psycopg.Connection[Row], rows: Sequence[Row],
              holds: dict[int, Hold]) -> None:
        if not rows:
            return
        users = sorted({r["user_id"] for r in rows})
        conn.execute(sql.load("email/lock_users"), {"users": users})
        window = max(c.per for c in self.caps)
        usage = conn.execute(sql.load("email/frequency_usage"),
                             {"users": users, "window": window}).fetchall()
        now_row = conn.execute(sql.load("email/now")).fetchone()
        now: datetime = now_row["now"] if now_row else datetime.now(UTC)
        taken: dict[str, list[datetime]] = {u: [] for u in users}
        competing: dict[str, list[tuple[int, str, datetime, bool]]] = {u: [] for u in users}
        for u in usage:
            if u["kind"] == "counted":
                taken[u["user_id"]].append(u["counted_at"])
            elif self.growth(u["loop"]):
                competing[u["user_id"]].append((u["id"], u["loop"], u["created_at"], False))
        for r in rows:
            competing[r["user_id"]].append((r["id"], r["loop"], r["created_at"], True))
        allowed: list[int] = []
        by_id = {r["id"]: r for r in rows}
        for user in users:
            slots = taken[user]
            for did, _loop, _, ours in sorted(competing[user],
                                             key=lambda c: (-self.priority(c[1]), c[2], c[0])):
                if self._fits(slots, now):
                    slots.append(now)  # a competitor not in this batch takes it all the same
                    if ours:
                        allowed.append(did)
                elif ours:
                    until, rule = self._frees(slots, now)
                    holds[did] = self._defer(
                        by_id[did], until, f"frequency cap {rule.max} per "
                                           f"{_span(rule.per)}: waits until "
                                           f"{until:%Y-%m-%d %H:%M} UTC")
        if allowed:
            conn.execute(sql.load("email/take_slots"), {"ids": allowed})

    def _fits(self, slots: Sequence[datetime], now: datetime) -> bool:
        return all(sum(1 for t in slots if t > now - c.per) < c.max for c in self.caps)

    def _frees(self, slots: Sequence[datetime], now: datetime) -> tuple[datetime, FrequencyCap]:
        """When every cap has a slot again (the latest of the rules' release times)."""
        latest, rule = now, self.caps[0]
        for c in self.caps:
            inside = sorted(t for t in slots if t > now - c.per)
            if len(inside) >= c.max:
                frees = inside[len(inside) - c.max] + c.per
                if frees > latest:
                    latest, rule = frees, c
        return latest, rule

    def _defer(self, row: Mapping[str, Any], until: datetime, reason: str) -> Hold:
        deadline = self.deadline(row)
        if until > deadline:
            return Hold("expired", f"expired: held by {reason.split(':')[0]} past the loop's "
                                   f"goal window (it could not be sent before "
                                   f"{deadline:%Y-%m-%d %H:%M} UTC)")
        return Hold("pending", reason, until)

    def _record(self, conn: psycopg.Connection[Row], rows: Sequence[Row],
                holds: Mapping[int, Hold]) -> None:
        conn.execute(sql.load("email/hold"), {
            "ids": [r["id"] for r in rows], "attempts": [r["attempts"] for r in rows],
            "states": [holds[r["id"]].state for r in rows],
            "reasons": [holds[r["id"]].reason[:2000] for r in rows],
            "untils": [holds[r["id"]].until for r in rows]})
        for r in rows:
            h = holds[r["id"]]
            level = logging.INFO if h.state == "pending" else logging.WARNING
            log.log(level, "delivery %s (%s, user %s) %s: %s", r["id"], r["loop"], r["user_id"],
                    "deferred" if h.state == "pending" else h.state, h.reason)


def _address(row: Mapping[str, Any], user: Mapping[str, Any] | None) -> str | None:
    rendered = row.get("rendered") or {}
    context_user = (row.get("context") or {}).get("user")
    for candidate in (rendered.get("to"), row.get("to_address"),
                      context_user.get("email") if isinstance(context_user, dict) else None,
                      (user or {}).get("email")):
        if candidate:
            return str(candidate)
    return None


def _span(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
