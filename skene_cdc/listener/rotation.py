"""The capture queue's three tables, PgQ's way: a row goes to the table its transaction id names
(4,096 ids per table in turn, skene.queue_part), so writers share no state; the listener empties
the table writers reach next with TRUNCATE once everything in it is consumed. No DELETE, no
VACUUM, and no lock an app writer waits on: nobody writes to that table until ids reach it, and
the truncate gives up after lock_timeout if a reader holds it, or if ids got there first."""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.errors import first_line

log = logging.getLogger("skene.listener")

DRAIN_EVERY = 10.0  # seconds between looks


class QueueDrain:
    def __init__(self, cursor: str, every: float = DRAIN_EVERY) -> None:
        self.cursor = cursor
        self.every = every
        self.last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def step(self, conn: psycopg.Connection[Row]) -> list[str]:
        """Truncate the drained table, if there is one. Call with the cursor's lock held, in a
        transaction of its own."""
        self.last = time.monotonic()
        row = conn.execute(sql.load("queue/drainable"), {"cursor": self.cursor}).fetchone()
        if row is None:
            return []
        try:
            with conn.transaction():
                conn.execute(pgsql.SQL(sql.load("queue/truncate")).format(
                    table=pgsql.Identifier(row["table"]),
                    table_text=pgsql.SQL(row["table"]),
                    current_range=pgsql.Literal(row["current_range"])))
        except psycopg.errors.LockNotAvailable as exc:
            log.info("queue: %s not truncated now (%s); next time", row["table"],
                     first_line(exc))
            return []
        return [f"queue: {row['table']} drained and truncated"]
