"""Helpers for the logical replication tests: databases with skene migrated in logical mode, each
with its own slot (slot names are cluster-wide), and teardown that drops the slot first (a
database with a logical slot cannot be dropped)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import psycopg

from skene_cdc.config import Config
from tests import conftest
from tests.conftest import DEFAULT_CONFIG, write_config
from tests.pgcluster import PgCluster

Conn = psycopg.Connection[tuple[object, ...]]


def logical_config(slot: str, extra: str = "", activity: str = "") -> str:
    text = DEFAULT_CONFIG.replace(
        "capture:\n  poll_interval: 1s",
        f"capture:\n  mode: logical\n  slot: {slot}\n  poll_interval: 1s{extra}")
    if activity:
        text = text.replace("capture:\n", activity + "capture:\n", 1)
    return text


def write_logical(directory: Path, dbname: str, extra: str = "", activity: str = "") -> Config:
    return write_config(directory, logical_config(f"s_{dbname}", extra, activity))


def drop_slots(url: str, dbname: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(100):
            conn.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE database = %s AND active_pid IS NOT NULL", (dbname,))
            left = conn.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s "
                                "AND active", (dbname,)).fetchone()
            if left == (0,):
                break
            time.sleep(0.05)
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE database = %s", (dbname,))


def drop_db(pg: PgCluster, name: str) -> None:
    drop_slots(pg.url(), name)
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Replication catches up more slowly than the trigger path: a longer default, a gentler poll.
wait_for = partial(conftest.wait_for, timeout=60, interval=0.05)


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]
