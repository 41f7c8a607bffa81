"""`skene-cdc check`: every problem in one run, each with where and how to fix it.

The shapes every area's checks share. Each area keeps its check functions next to what they
check; runtime/checks.py lists them, in the order `check` reports them. A check reads, never
writes. `conn` is None when the database could not be reached (`check` reports that once itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import psycopg

from skene_cdc.config import Config
from skene_cdc.db import Row


@dataclass(frozen=True)
class Problem:
    where: str  # "skene.yaml:12", "database", "templates/welcome.html:3", "environment"
    message: str
    fix: str
    severity: str = "error"  # "error" fails the check; "warning" is printed only

    def __str__(self) -> str:
        return f"{self.where}: {self.message}. Fix: {self.fix}"


@dataclass
class CheckContext:
    config: Config
    url: str | None
    conn: psycopg.Connection[Row] | None


Check = Callable[[CheckContext], Iterable[Problem]]


def run_each(ctx: CheckContext, checks: Sequence[Check]) -> list[Problem]:
    """Every check's problems, in order; one that fails on the database is itself a problem."""
    problems: list[Problem] = []
    for check in checks:
        try:
            problems.extend(check(ctx))
        except psycopg.Error as exc:
            if ctx.conn is not None and not ctx.conn.closed:
                ctx.conn.rollback()
            problems.append(Problem("database", f"{check.__name__} could not run: {exc}".strip(),
                                    "see the message; fix and re-run `skene-cdc check`"))
    return problems

