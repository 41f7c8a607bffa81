"""`skene-cdc check` for loops: every step's trigger, condition and action, and, when the
database is reachable, that each condition query compiles and names its users."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem, register
from skene_cdc.db import Row
from skene_cdc.handlers.loops.plan import StepPlan, plan_loops
from skene_cdc.handlers.loops.safety import bind_user


@register
def check_loops(ctx: CheckContext) -> Iterable[Problem]:
    plans, problems = plan_loops(ctx.config)
    yield from problems
    if ctx.conn is None:
        return
    for plan in plans:
        problem = compile_query(ctx.conn, plan)
        if problem:
            yield problem


def compile_query(conn: psycopg.Connection[Row], plan: StepPlan) -> Problem | None:
    """Run the query with LIMIT 0 (read-only, rolled back): unknown tables and columns show, and
    so do its output columns, which must name the user."""
    if plan.query is None:
        return None
    stmt = pgsql.SQL(sql.load("loops/probe_query")).format(
        query=pgsql.SQL(bind_user(plan.query, "NULL")))
    columns: list[str] = []
    try:
        with conn.transaction() as tx:
            conn.execute(pgsql.SQL(sql.load("loops/readonly")).format(timeout=pgsql.Literal(5000)))
            cur = conn.execute(stmt)
            columns = [c.name for c in cur.description or []]
            raise psycopg.Rollback(tx)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Problem(plan.where, f"{plan.label}: the condition query does not run: {first}",
                       "fix the SQL (skene's own relations are skene.users, "
                       "skene.user_activity, skene.activity_daily and skene.user_events)")
    if "user_id" not in columns and "id" not in columns:
        return Problem(plan.where, f"{plan.label}: the condition query returns no user_id or id "
                                   f"column (it returns: {', '.join(columns)})",
                       "select the user's id AS user_id")
    return None
