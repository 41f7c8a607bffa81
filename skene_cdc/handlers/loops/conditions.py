"""Evaluating a step's condition: which users it holds for now, with the columns templates see.

Every evaluation runs in a savepoint made read-only with the step's statement_timeout and
`SET LOCAL ROLE` to the reader role (roles.reader), then rolled back: a failing or slow condition
costs that savepoint, never the caller's transaction (the listener's batch, a schedule firing),
which records the error and carries on. A `query` condition also runs inside
skene.condition_rows, the reader's security-definer fence, where no function it calls can change
the role back (docs/security.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config.loops import (
    DecliningCondition,
    DormantCondition,
    MilestoneCondition,
    QueryCondition,
    StoppedCondition,
)
from skene_cdc.db import Row, jsonable
from skene_cdc.errors import first_line
from skene_cdc.handlers.loops.plan import StepPlan
from skene_cdc.handlers.loops.safety import bind_user

NO_COOLDOWN = timedelta(0)


@dataclass(frozen=True)
class Candidate:
    user_id: str
    episode: str | None  # None: the loop type's default, decided with the user's row
    row: dict[str, Any]  # the condition's columns


@dataclass
class Outcome:
    candidates: list[Candidate] = field(default_factory=list)
    # user id -> error; the key None means the evaluation as a whole failed
    errors: dict[str | None, str] = field(default_factory=dict)


def as_reader(conn: psycopg.Connection[Row], reader: str, timeout: timedelta) -> None:
    """Make the current (sub)transaction read-only, bounded by `timeout`, and the reader's."""
    ms = max(1, int(timeout.total_seconds() * 1000))
    conn.execute(pgsql.SQL(sql.load("loops/readonly")).format(
        timeout=pgsql.Literal(ms), role=pgsql.Identifier(reader)))


def run_readonly(conn: psycopg.Connection[Row], statement: pgsql.Composed | pgsql.SQL,
                 params: dict[str, Any] | None, timeout: timedelta, reader: str) -> list[Row]:
    """Run one statement read-only under `timeout` as `reader`, inside a savepoint that is always
    rolled back (which also undoes the SET LOCALs). psycopg errors propagate after the rollback."""
    rows: list[Row] = []
    with conn.transaction() as tx:
        as_reader(conn, reader, timeout)
        rows = conn.execute(statement, params).fetchall()
        raise psycopg.Rollback(tx)
    return rows


def describe_error(exc: psycopg.Error, reader: str | None = None) -> str:
    text = first_line(exc)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return f"timed out (statement_timeout): {text}"
    if reader and (isinstance(exc, psycopg.errors.UndefinedFunction) and "condition_rows" in text
                   or isinstance(exc, psycopg.errors.UndefinedObject) and reader in text
                   or "permission denied to set role" in text):
        return (f"{type(exc).__name__}: {text} (conditions run as the role {reader}, which "
                "`skene-cdc migrate` sets up: run it, as the role that runs the listener)")
    if reader and isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (f"{type(exc).__name__}: {text} (conditions run as {reader}, which may read only "
                "the tables in app.users/app.activity and skene's read views)")
    return f"{type(exc).__name__}: {text}"


def evaluate(conn: psycopg.Connection[Row], plan: StepPlan,
             users: Sequence[str] | None) -> Outcome:
    """The candidates among `users` (None: everyone) for whom the condition holds now."""
    if isinstance(plan.condition, QueryCondition):
        return _evaluate_query(conn, plan, users)
    statement, params = _builtin(plan)
    scope = pgsql.SQL("TRUE")
    if users is not None:
        scope = pgsql.SQL("s.user_id = ANY(%(users)s::text[])")
        params["users"] = list(users)
    stmt = pgsql.SQL(statement).format(scope=scope)
    try:
        rows = run_readonly(conn, stmt, params, plan.timeout, plan.reader)
    except psycopg.Error as exc:
        if conn.broken:
            raise
        return Outcome(errors={None: describe_error(exc, plan.reader)})
    out = Outcome()
    for r in rows:
        uid, episode = str(r.pop("user_id")), str(r.pop("episode"))
        out.candidates.append(Candidate(uid, episode, jsonable(r)))
    return out


def _builtin(plan: StepPlan) -> tuple[str, dict[str, Any]]:
    c = plan.condition
    params: dict[str, Any] = {"loop": plan.loop.name, "suffix": plan.suffix,
                              "cooldown": plan.loop.cooldown if plan.uses_cooldown
                              else NO_COOLDOWN}
    if isinstance(c, DormantCondition):
        return sql.load("loops/dormant"), {**params, "days": c.days}
    if isinstance(c, DecliningCondition):
        return sql.load("loops/declining"), {**params, "ratio": c.ratio,
                                             "min_last_week": c.min_last_week}
    if isinstance(c, StoppedCondition):
        return sql.load("loops/stopped"), {**params, "event": c.event, "days": c.days}
    if isinstance(c, MilestoneCondition):
        return sql.load("loops/milestone"), {**params, "event": c.event,
                                             "event_key": c.event or "*",
                                             "counts": list(c.counts),
                                             "first_count": min(c.counts)}
    raise AssertionError(f"no built-in SQL for {type(c).__name__}")


def _evaluate_query(conn: psycopg.Connection[Row], plan: StepPlan,
                    users: Sequence[str] | None) -> Outcome:
    assert plan.query is not None
    out = Outcome()
    if plan.query.max_param:
        # $1 is the triggering user: one run per user, so one user's failure is only theirs.
        for uid in users or ():
            try:
                rows = _run_query(conn, plan, uid)
            except psycopg.Error as exc:
                if conn.broken:
                    raise
                out.errors[uid] = describe_error(exc, plan.reader)
                continue
            _collect(out, rows, {uid})
        return out
    try:
        rows = _run_query(conn, plan, None)
    except psycopg.Error as exc:
        if conn.broken:
            raise
        out.errors[None] = describe_error(exc, plan.reader)
        return out
    _collect(out, rows, set(users) if users is not None else None)
    return out


def _run_query(conn: psycopg.Connection[Row], plan: StepPlan, uid: str | None) -> list[Row]:
    assert plan.query is not None
    literal = pgsql.Literal(uid).as_string(conn) if uid is not None else "NULL"
    return run_readonly(conn, pgsql.SQL(sql.load("loops/condition_rows")),
                        {"statement": bind_user(plan.query, literal)}, plan.timeout, plan.reader)


def _collect(out: Outcome, rows: list[Row], only: set[str] | None) -> None:
    seen: set[str] = set()
    for r in rows:
        row = r["row"]
        if not isinstance(row, dict):
            out.errors[None] = "the query's rows are not records"
            return
        if "user_id" not in row and "id" not in row:
            out.errors[None] = ("the query's rows have no user_id or id column, so they name no "
                                f"user (columns: {', '.join(row) or 'none'})")
            return
        value = row["user_id"] if "user_id" in row else row["id"]
        if value is None:
            continue
        uid = str(value)
        if uid in seen or (only is not None and uid not in only):
            continue  # the first row per user wins
        seen.add(uid)
        episode = row.get("episode")
        out.candidates.append(Candidate(uid, str(episode) if episode is not None else None, row))

