"""The capture queue's three tables (PgQ's rotation): triggers append to the current one; every
few seconds the listener makes the next one current, and empties with TRUNCATE a table whose
rows it has all consumed. No DELETE, no VACUUM, no lock any app writer waits on: nobody writes to
a table that is not current, and the truncate gives up after lock_timeout if a reader holds it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.db import Row

log = logging.getLogger("skene.listener")

PARTS = 3
ROTATE_EVERY = 10.0  # seconds a table stays current (at most ~3 of these are kept on disk)


@dataclass(frozen=True)
class QueueTable:
    part: int
    current: bool
    closed: bool
    drained: bool

    @property
    def name(self) -> str:
        return f"queue_{self.part}"


def tables(conn: psycopg.Connection[Row], cursor: str) -> list[QueueTable]:
    return [QueueTable(r["part"], r["current"], r["closed_xmax"] is not None, r["drained"])
            for r in conn.execute(sql.load("queue/state"), {"cursor": cursor})]


class Rotation:
    def __init__(self, cursor: str, every: float = ROTATE_EVERY) -> None:
        self.cursor = cursor
        self.every = every
        self.last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def step(self, conn: psycopg.Connection[Row]) -> list[str]:
        """Truncate drained tables, then rotate if the next table is empty. Call with the
        cursor's lock held, in a transaction of its own."""
        self.last = time.monotonic()
        done: list[str] = []
        state = tables(conn, self.cursor)
        current = next(t.part for t in state if t.current)
        conn.execute(sql.load("queue/close"), {"current": current})  # heals a crashed rotation
        state = tables(conn, self.cursor)
        for t in state:
            if t.drained and not t.current:
                try:
                    with conn.transaction():
                        conn.execute(pgsql.SQL(sql.load("queue/truncate")).format(
                            table=pgsql.Identifier(t.name), part=pgsql.Literal(t.part)))
                    done.append(f"queue: {t.name} drained and truncated")
                except psycopg.errors.LockNotAvailable:
                    log.info("queue: %s is being read; truncated later", t.name)
        state = tables(conn, self.cursor)
        nxt = state[(current + 1) % PARTS]
        if not nxt.closed:
            part = conn.execute(sql.load("queue/rotate")).fetchone()
            assert part is not None
            conn.execute(sql.load("queue/close"), {"current": part["part"]})
            done.append(f"queue: queue_{part['part']} is now current")
        return done
