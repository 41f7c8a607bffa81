"""`skene-cdc check`: every problem in one run, each with where and how to fix it.

Each area registers check functions in CHECKS; a check reads, never writes. `conn` is None when
the database could not be reached (that is itself reported once by the base checks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
CHECKS: list[Check] = []


def register(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def run_checks(ctx: CheckContext) -> list[Problem]:
    problems: list[Problem] = []
    for check in CHECKS:
        try:
            problems.extend(check(ctx))
        except psycopg.Error as exc:
            if ctx.conn is not None and not ctx.conn.closed:
                ctx.conn.rollback()
            problems.append(Problem("database", f"{check.__name__} could not run: {exc}".strip(),
                                    "see the message; fix and re-run `skene-cdc check`"))
    return problems


# Areas register their checks when imported; `register` exists by now, so the cycle is safe.
from skene_cdc.freemium import checks as _freemium_checks  # noqa: E402,F401
