"""After 0008: the old, unpartitioned events move into the day-partitioned history in chunks
(each chunk its own short transaction, with progress), then the old table goes. Run by every
`migrate` until nothing is left; `status` shows what remains."""

from __future__ import annotations

from datetime import date

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.listener.history import History
from skene_cdc.progress import progress

CHUNK = 50_000


def pending(conn: psycopg.Connection[Row]) -> int | None:
    """An estimate of the old events still to move; None when there is no old table."""
    row = conn.execute(sql.load("upgrade/legacy_state")).fetchone()
    conn.commit()
    if not row or not row["present"]:
        return None
    return max(int(row["estimate"] or 0), 0)


def move(conn: psycopg.Connection[Row], history: History, interactive: bool | None = None,
         chunk: int = CHUNK) -> int:
    """Move every old event; return how many moved. Every day present gets a partition, even
    past events.retention: the upgrade loses nothing, the retention pass decides later."""
    estimate = pending(conn)
    if estimate is None:
        return 0
    if not conn.execute(sql.load("upgrade/legacy_any")).fetchone():
        with conn.transaction():  # a fresh install: 0008 renamed an empty table
            conn.execute(sql.load("upgrade/legacy_drop"))
        return 0
    moved = 0
    with progress("migrate: events into the partitioned history", total=estimate or None,
                  unit="events", interactive=interactive) as bar:
        while True:
            with conn.transaction():
                history.refresh(conn)
                days: list[date] = [r["day"] for r in conn.execute(
                    sql.load("upgrade/legacy_days"), {"n": chunk})]
                history.ensure(conn, days, force=True)
                n = conn.execute(sql.load("upgrade/legacy_move"), {"n": chunk}).rowcount
            moved += n
            bar.advance(n)
            if n < chunk:
                break
    with conn.transaction():
        conn.execute(sql.load("upgrade/legacy_drop"))
    return moved
