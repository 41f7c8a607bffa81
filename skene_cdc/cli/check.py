"""`skene-cdc check`: every problem in one run, each with its fix; changes nothing.

A config that does not parse is the first and only problem reported (nothing else can be checked
without it). Otherwise every check in `skene_cdc.runtime.checks.CHECKS` runs, in that order,
against one READ ONLY connection; the database being unreachable is itself one problem."""

from __future__ import annotations

import json as jsonlib
import re
import sys
from collections.abc import Iterable, Sequence

import click
import psycopg

from skene_cdc.checks import Check, CheckContext, Problem, run_each
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.config import Config, load_config
from skene_cdc.db import Row, connect, redact
from skene_cdc.errors import ConfigError, SkeneError


def config_problems(exc: ConfigError) -> list[Problem]:
    """One Problem per line of a config error (validation reports every field at once)."""
    lines = exc.message.splitlines()
    fix = exc.hint or "correct skene.yaml"
    if len(lines) > 1:
        out = []
        for line in lines[1:]:
            m = re.match(r"\s*(\S+?:\d+): (.*)", line)
            out.append(Problem(m.group(1), m.group(2), fix) if m
                       else Problem(exc.where or "skene.yaml", line.strip(), fix))
        return out
    return [Problem(exc.where or "skene.yaml", exc.message, fix)]


def gather(ctx: Ctx, checks: Sequence[Check] | None = None) -> tuple[list[Problem], int]:
    """(problems, number of checks run); `checks` defaults to every check, in report order."""
    try:
        config: Config = load_config(ctx.config_path)
    except ConfigError as exc:
        return config_problems(exc), 1
    problems: list[Problem] = []
    conn: psycopg.Connection[Row] | None = None
    if not ctx.database_url:
        problems.append(Problem("environment", "no database given",
                                "pass --database-url or set DATABASE_URL"))
    else:
        try:
            conn = connect(ctx.database_url, application_name="skene-cdc check")
            conn.read_only = True  # every transaction this check opens is READ ONLY
        except SkeneError as exc:
            problems.append(Problem("database", exc.message, exc.hint or ""))
    if checks is None:
        from skene_cdc.runtime.checks import CHECKS  # imports every area: only when checking

        checks = CHECKS
    try:
        problems.extend(run_each(CheckContext(config, ctx.database_url, conn), checks))
    finally:
        if conn is not None:
            conn.rollback()
            conn.close()
    return problems, len(checks)


def render(problems: Iterable[Problem]) -> str:
    out = []
    for p in problems:
        mark = "error  " if p.severity == "error" else "warning"
        out.append(f"{mark} {p.where}: {p.message}\n        fix: {p.fix}")
    return "\n".join(out)


@click.command()
@click.option("--json", is_flag=True, help="Print the problems as JSON.")
@pass_ctx
def check(ctx: Ctx, json: bool) -> None:
    """Validate skene.yaml, SQL conditions, templates and database prerequisites.

    Lists every problem with its fix, changes nothing, exits 1 if there is any error."""
    problems, n_checks = gather(ctx)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if json:
        click.echo(jsonlib.dumps({
            "ok": not errors, "errors": len(errors), "warnings": len(warnings),
            "problems": [{"where": p.where, "message": p.message, "fix": p.fix,
                          "severity": p.severity} for p in problems]}, indent=2))
    else:
        target = redact(ctx.database_url) if ctx.database_url else "no database"
        click.echo(f"checking {ctx.config_path} against {target}")
        if problems:
            click.echo(render(errors + warnings))
        summary = (f"{len(errors)} error{'s' * (len(errors) != 1)}, "
                   f"{len(warnings)} warning{'s' * (len(warnings) != 1)}")
        click.echo(f"{'FAILED' if errors else 'ok'}: {n_checks} checks, {summary}")
    if errors:
        sys.exit(1)
