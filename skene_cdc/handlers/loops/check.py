"""`skene-cdc check` for loops: every step's trigger, condition and action, and, when the
database is reachable, that each condition query compiles and names its users. The probe runs
exactly as an evaluation does (read-only, as the reader role, inside skene.condition_rows), so a
condition cannot act through `check` either, and one that reads a table the reader may not read
is reported here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.db import Row
from skene_cdc.errors import first_line
from skene_cdc.handlers.loops.conditions import as_reader, describe_error
from skene_cdc.handlers.loops.plan import StepPlan, plan_loops
from skene_cdc.handlers.loops.safety import bind_user

PROBE_TIMEOUT = timedelta(seconds=5)


def check_loops(ctx: CheckContext) -> Iterable[Problem]:
    plans, problems = plan_loops(ctx.config)
    yield from problems
    if ctx.conn is None or not reader_ready(ctx.conn, ctx.config.roles.reader):
        return  # the reader role's own check says why conditions cannot run yet
    for plan in plans:
        problem = compile_query(ctx.conn, plan)
        if problem:
            yield problem


def reader_ready(conn: psycopg.Connection[Row], reader: str) -> bool:
    """Can this connection evaluate conditions as `reader` (role and fence in place)?"""
    row = conn.execute(sql.load("loops/reader_ready"), {"role": reader}).fetchone()
    conn.rollback()
    return bool(row and row["ready"])


def compile_query(conn: psycopg.Connection[Row], plan: StepPlan) -> Problem | None:
    """Run the query so that it reads no row (read-only, as the reader, rolled back): unknown
    tables and columns show, and so do its output columns, which must name the user."""
    if plan.query is None:
        return None
    probe = pgsql.SQL(sql.load("loops/probe_query")).format(
        query=pgsql.SQL(bind_user(plan.query, "NULL"))).as_string(conn)
    columns: list[str] = []
    try:
        with conn.transaction() as tx:
            as_reader(conn, plan.reader, PROBE_TIMEOUT)
            row = conn.execute(sql.load("loops/condition_rows"), {"statement": probe}).fetchone()
            columns = list(row["row"]) if row and isinstance(row["row"], dict) else []
            raise psycopg.Rollback(tx)
    except psycopg.Error as exc:
        first = first_line(exc)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            first = describe_error(exc, plan.reader)
        return Problem(plan.where, f"{plan.label}: the condition query does not run: {first}",
                       "fix the SQL (skene's own relations are skene.users, "
                       "skene.user_activity, skene.activity_daily and skene.user_events)")
    if "user_id" not in columns and "id" not in columns:
        return Problem(plan.where, f"{plan.label}: the condition query returns no user_id or id "
                                   f"column (it returns: {', '.join(columns)})",
                       "select the user's id AS user_id")
    return None
