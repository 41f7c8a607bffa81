"""skene.events as a history partitioned by UTC day: partitions made ahead (and on demand for
the odd old or future day), whole days dropped past `events.retention`. Only skene's own readers
ever wait on these locks, and at most lock_timeout; the app never touches this table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row

log = logging.getLogger("skene.history")

AHEAD_DAYS = 2  # partitions kept ready beyond today
# Redelivery ids are kept at least this long (Stripe retries for 3 days).
MIN_EXTERNAL_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class Partition:
    name: str
    day: date
    bytes: int


def partition_name(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def retention(config: Config) -> timedelta | None:
    """None for `forever`."""
    value = config.events.retention
    return None if isinstance(value, str) else value


def utcnow() -> datetime:
    return datetime.now(UTC)


def horizon(keep: timedelta | None, now: datetime | None = None) -> date | None:
    """The oldest day a history kept for `keep` holds (None: every day)."""
    if keep is None:
        return None
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return today - timedelta(days=max(keep.days, 1) - 1)


def status(conn: psycopg.Connection[Row]) -> list[Row]:
    """For `skene-cdc status`: history and queue on disk, the retention in force. One row, as a
    list like every other section (docs/status.md's `--json` promise)."""
    return conn.execute(sql.load("history/status")).fetchall()


def partitions(conn: psycopg.Connection[Row]) -> list[Partition]:
    return [Partition(r["name"], r["day"], r["bytes"])
            for r in conn.execute(sql.load("history/partitions"))]


class History:
    """The consumer's view of the partitions: which days exist (so a batch stores exactly
    those), making the missing ones, and the daily retention pass. `clock` says what time it
    is (real time; the soak bench passes a simulated one to walk through days quickly)."""

    def __init__(self, keep: timedelta | None = timedelta(days=30), *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.keep = keep  # events.retention; None for `forever`
        self.clock = clock
        self.days: set[date] = set()

    def refresh(self, conn: psycopg.Connection[Row]) -> None:
        self.days = {p.day for p in partitions(conn)}

    def wanted(self, day: date, now: datetime | None = None) -> bool:
        """A day history should keep: not past the retention, not absurdly far ahead."""
        now = now or self.clock()
        today = now.astimezone(UTC).date()
        oldest = horizon(self.keep, now)
        return (oldest is None or day >= oldest) and day <= today + timedelta(days=AHEAD_DAYS + 5)

    def ensure(self, conn: psycopg.Connection[Row], days: Iterable[date],
               force: bool = False) -> list[date]:
        """Create partitions for these days (those history keeps, or all with `force`); return
        the ones made. Runs in the caller's transaction, inside a savepoint: a lock timeout
        leaves the day for later (with `force` it raises)."""
        made = []
        for day in sorted(set(days) - self.days):
            if not force and not self.wanted(day):
                continue
            start = datetime.combine(day, time(), UTC)
            stmt = pgsql.SQL(sql.load("history/create_partition")).format(
                name=pgsql.Identifier(partition_name(day)),
                start=pgsql.Literal(start.isoformat()),
                end=pgsql.Literal((start + timedelta(days=1)).isoformat()))
            try:
                with conn.transaction():
                    conn.execute(stmt)
            except psycopg.errors.LockNotAvailable:
                if force:
                    raise
                log.info("history: skene.events is busy; partition %s made later",
                         partition_name(day))
                continue
            self.days.add(day)
            made.append(day)
        return made

    def maintain(self, conn: psycopg.Connection[Row], now: datetime | None = None) -> list[str]:
        """Partitions for today and the days ahead; days past the retention dropped; old
        redelivery ids forgotten. Returns what was done, for the log."""
        done: list[str] = []
        self.refresh(conn)
        now = now or self.clock()
        today = now.astimezone(UTC).date()
        made = self.ensure(conn, [today + timedelta(days=i) for i in range(-1, AHEAD_DAYS + 1)])
        done += [f"history: partition {partition_name(d)} created" for d in made]
        oldest = horizon(self.keep, now)
        if oldest is not None:
            for p in partitions(conn):
                if p.day >= oldest:
                    continue
                try:
                    with conn.transaction():
                        conn.execute(pgsql.SQL(sql.load("history/drop_partition")).format(
                            name=pgsql.Identifier(p.name)))
                except psycopg.errors.LockNotAvailable:
                    log.info("history: skene.events is busy; %s dropped later", p.name)
                    continue
                self.days.discard(p.day)
                done.append(f"history: {p.name} dropped ({p.bytes} bytes), past "
                            f"events.retention")
        conn.execute(sql.load("history/prune_external"),
                     {"keep": max(self.keep or timedelta(days=36500), MIN_EXTERNAL_KEEP)})
        conn.execute(sql.load("history/set_retention"),
                     {"value": "forever" if self.keep is None else f"{self.keep.days}d"})
        return done
