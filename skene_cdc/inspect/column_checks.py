"""`skene-cdc check` on columns: the app changed a table skene captures (skene.users broken or
out of date, a mapped column gone), and captured columns whose names look secret. Read-only.

Run after inspect/prereqs.py's checks (runtime/checks.py); a mapped column missing from
the database is reported there, with its skene.yaml line, and not again here."""

from __future__ import annotations

from collections.abc import Iterator

from skene_cdc.checks import CheckContext, Problem
from skene_cdc.db import schema_installed
from skene_cdc.migrations import capture
from skene_cdc.migrations.app_schema import MIGRATE, findings, secret_fix, users_view_error
from skene_cdc.migrations.columns import secret_reason, secrets_captured
from skene_cdc.migrations.users_view import gone, plan_users_view

REBUILD = (f"a running `skene-cdc listen` rebuilds it within a minute; {MIGRATE} does it now")


def _mapped(spec: capture.CaptureSpec, ctx: CheckContext) -> set[str]:
    users = ctx.config.app.users
    if spec.role == "users":
        names = [users.id, users.email, users.name, users.created_at, users.stripe_customer_id]
    else:
        names = [spec.user_id_column, spec.timestamp_column, spec.event_column]
    return {n for n in names if n}


def app_schema(ctx: CheckContext) -> Iterator[Problem]:
    """What the app changed under installed capture (the same list as `status`), and whether
    skene.users is in step with the users table."""
    if ctx.conn is None or not schema_installed(ctx.conn):
        return
    specs, _ = capture.resolve_all(ctx.conn, ctx.config)
    by_table = {s.table_name: s for s in specs}
    reported = False
    for f in findings(ctx.conn):
        spec = by_table.get(f.table)
        if spec is not None and f.column is not None and f.column not in spec.columns \
                and f.column in _mapped(spec, ctx) and not f.problem.startswith("skene.users"):
            continue  # config_matches_database names it with its skene.yaml line
        fix = f.fix
        if f.severity == "warning" and spec is not None and f.column is not None:
            if spec.selection.keeps(f.column):
                continue  # secret_columns says it, about skene.yaml
            fix = f"skene.yaml leaves it out: run {MIGRATE} to apply that"
        reported = reported or f.problem.startswith("skene.users")
        yield Problem(f"database: {f.table}", f.problem, fix, f.severity)
    users = next((s for s in specs if s.role == "users"), None)
    if reported or users is None or gone(ctx.config, users) \
            or users_view_error(ctx.conn) is not None:
        return
    if plan_users_view(ctx.conn, ctx.config, specs, installed=True).steps:
        yield Problem(f"database: {users.table_name}",
                      f"skene.users is out of date: {users.table_name} or skene.yaml changed "
                      "since it was built (a column added, dropped or retyped)", REBUILD,
                      "warning")


def secret_columns(ctx: CheckContext) -> Iterator[Problem]:
    """skene.yaml captures a column whose name looks secret (an `exclude:` list that misses it,
    an `include:` list that names it)."""
    if ctx.conn is None:
        return
    specs, _ = capture.resolve_all(ctx.conn, ctx.config)
    for spec in specs:
        sel = spec.selection
        for column in secrets_captured(sel.mode, sel.listed, spec.columns, _mapped(spec, ctx)):
            how = ("skene.yaml's `include:` list names it" if sel.mode == "include"
                   else "the table's `exclude:` list does not name it")
            yield Problem(f"database: {spec.table_name}",
                          f"column {column!r} looks secret ({secret_reason(column)}) and would "
                          f"be copied into skene.events: {how}",
                          secret_fix(sel.mode) + " (if it holds no secret, ignore this warning)",
                          "warning")
