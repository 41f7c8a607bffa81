"""Helpers for the logical replication tests: databases with skene migrated in logical mode, each
with its own slot (slot names are cluster-wide), and teardown that drops the slot first (a
database with a logical slot cannot be dropped)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import psycopg

from skene_cdc.config import Config
from tests import conftest
from tests.conftest import DEFAULT_CONFIG, write_config

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


# Replication catches up more slowly than the trigger path: a longer default, a gentler poll.
wait_for = partial(conftest.wait_for, timeout=60, interval=0.05)


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]
