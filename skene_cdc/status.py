"""What `skene-cdc status` reports: a dict of sections, each from a function over one connection.
SECTIONS below is the whole list, in the order `status` prints them; an area with something to
report adds its function there (each area's own query lives with it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.handlers.loops.report import funnel_rows
from skene_cdc.listener import history
from skene_cdc.listener.slotops import replication_section
from skene_cdc.migrations.app_schema import status_section as app_schema_section

Section = Callable[[psycopg.Connection[Row]], Any]


def capture_section(conn: psycopg.Connection[Row]) -> Any:
    rows = conn.execute(sql.load("queries/status_capture")).fetchall()
    now = datetime.now(UTC)
    for r in rows:
        oldest = r.pop("oldest_pending_at")
        r["lag_seconds"] = round((now - oldest).total_seconds(), 3) if oldest else 0.0
    return rows


def errors_section(conn: psycopg.Connection[Row]) -> Any:
    return conn.execute(sql.load("queries/status_errors"), {"limit": ERRORS_SHOWN}).fetchall()


ERRORS_SHOWN = 5

SECTIONS: dict[str, Section] = {
    "capture": capture_section,
    "history": history.status,
    "listeners": lambda c: c.execute(sql.load("queries/status_listeners")).fetchall(),
    "tables": lambda c: c.execute(sql.load("queries/status_tables")).fetchall(),
    "loops": funnel_rows,
    "deliveries": lambda c: c.execute(sql.load("email/status_deliveries")).fetchall(),
    "delivery_errors": lambda c: c.execute(sql.load("email/status_delivery_errors")).fetchall(),
    "errors": errors_section,
    "freemium": lambda c: c.execute(sql.load("freemium/status")).fetchall(),
    "stripe_unknown_users": lambda c: c.execute(sql.load("billing/status_unknown_users")).fetchall(),
    "replication": replication_section,
    "app_schema": app_schema_section,
}


def collect(conn: psycopg.Connection[Row]) -> dict[str, Any]:
    return {name: fn(conn) for name, fn in SECTIONS.items()}
