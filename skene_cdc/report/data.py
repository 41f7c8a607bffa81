"""What the report shows, read from schema skene in one read-only transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.handlers.loops.report import funnel_rows


@dataclass
class LoopFunnel:
    loop: str
    days: list[date] = field(default_factory=list)
    enrolled: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    converted: list[int] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Hourly:
    hours: list[datetime] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)
    lag_p50: list[float | None] = field(default_factory=list)
    lag_p95: list[float | None] = field(default_factory=list)


@dataclass
class ReportData:
    generated_at: datetime
    days: int
    hours: int
    totals: dict[str, Any]
    loops: list[LoopFunnel]
    hourly: Hourly
    capture: list[dict[str, Any]]


def collect(conn: psycopg.Connection[Row], *, days: int = 30, hours: int = 48) -> ReportData:
    """`conn` must be in autocommit mode: the report opens its own read-only transaction."""
    # One snapshot, so the totals, funnels and hourly figures agree with each other.
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now = conn.execute("SELECT now() AS now").fetchone()
        totals = conn.execute(sql.load("report/totals")).fetchone() or {}
        daily_rows = conn.execute(sql.load("report/funnel_daily"), {"days": days}).fetchall()
        funnel = funnel_rows(conn)
        hourly_rows = conn.execute(sql.load("report/events_hourly"), {"hours": hours}).fetchall()
        capture = conn.execute(sql.load("queries/status_capture")).fetchall()
    loops: dict[str, LoopFunnel] = {}
    for r in daily_rows:
        f = loops.setdefault(r["loop"], LoopFunnel(r["loop"]))
        f.days.append(r["day"])
        f.enrolled.append(int(r["enrolled"]))
        f.sent.append(int(r["sent"]))
        f.converted.append(int(r["converted"]))
    # Totals and variants as the view skene.loop_funnel has them (what psql and status show).
    for r in funnel:
        f = loops.setdefault(r["loop"], LoopFunnel(r["loop"]))
        if r["variant"] == "(all)":
            f.totals = dict(r)
        else:
            f.variants.append(dict(r))
    hourly = Hourly()
    for r in hourly_rows:
        hourly.hours.append(r["hour"])
        hourly.events.append(int(r["events"]))
        hourly.live.append(int(r["live"]))
        hourly.lag_p50.append(None if r["lag_p50"] is None else float(r["lag_p50"]))
        hourly.lag_p95.append(None if r["lag_p95"] is None else float(r["lag_p95"]))
    return ReportData(generated_at=now["now"] if now else datetime.now(), days=days, hours=hours,
                      totals=dict(totals), loops=[loops[k] for k in sorted(loops)],
                      hourly=hourly, capture=capture)
