"""`skene-cdc check` on the database: skene.yaml against it (tables, columns), skene's
migrations, capture drift, the privileges `migrate` will need, the history's disk budget. All
read-only. runtime/checks.py runs these first: nothing else is worth reading while they fail."""

from __future__ import annotations

from collections.abc import Iterator

from alembic.script import ScriptDirectory

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.db import schema_installed
from skene_cdc.errors import SkeneError
from skene_cdc.migrations import capture
from skene_cdc.migrations.runner import HERE as MIGRATIONS_DIR
from skene_cdc.migrations.users_view import USERS_VIEW_LABEL


def config_matches_database(ctx: CheckContext) -> Iterator[Problem]:
    """Every configured table and column exists, with a timestamp type where one is needed."""
    if ctx.conn is None:
        return
    _specs, problems = capture.resolve_all(ctx.conn, ctx.config)
    installed = bool(problems) and schema_installed(ctx.conn)
    for p in problems:
        fix = (p.fix or "correct the name in skene.yaml") \
            + " (`skene-cdc init --stdout` shows what the database has)"
        if installed and "does not exist" in p.message:
            # Installed: migrate checked the names then, so the app has changed its table since.
            fix += ("; if the app renamed or dropped the column, point skene.yaml at its new "
                    "name (or remove the key) and run `skene-cdc migrate`. Until then capture "
                    "goes on: this table's rows without it, other tables as usual")
        yield Problem(p.where, p.message, fix)


def migrations_current(ctx: CheckContext) -> Iterator[Problem]:
    if ctx.conn is None:
        return
    if not schema_installed(ctx.conn):
        yield Problem("database", "skene is not installed in this database yet",
                      "run `skene-cdc migrate` (add --sql to review the SQL first)", "warning")
        return
    have = {r["version_num"] for r in ctx.conn.execute(sql.load("inspect/skene_versions"))}
    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    if have != heads:
        yield Problem("database", f"schema skene is at {', '.join(sorted(have)) or 'no version'}"
                                  f", this skene-cdc expects {', '.join(sorted(heads))}",
                      "run `skene-cdc migrate`", "warning")
        return
    try:
        plan = capture.plan_sync(ctx.conn, ctx.config, installed=True)
    except SkeneError:
        return  # config/database mismatches are reported by config_matches_database
    # skene.users being out of date is column_checks.app_schema's, with its cause.
    labels = [label for label, _ in plan.steps if not label.startswith(USERS_VIEW_LABEL)]
    if labels:
        yield Problem("database", "installed capture differs from skene.yaml: "
                                  + "; ".join(labels),
                      "run `skene-cdc migrate` to bring it in line", "warning")


def privileges(ctx: CheckContext) -> Iterator[Problem]:
    """`migrate` creates schema skene and a trigger (with a COMMENT) on every captured table."""
    if ctx.conn is None:
        return
    role = ctx.conn.execute(sql.load("inspect/role")).fetchone()
    if role is None or role["superuser"]:
        return
    user = role["user"]
    if role["skene_owner"] is None and not role["can_create_schema"]:
        yield Problem("database", f"role {user} cannot create schema skene in database "
                                  f"{role['database']}",
                      f"GRANT CREATE ON DATABASE \"{role['database']}\" TO \"{user}\"; or run "
                      "`skene-cdc migrate` once as the database owner")
    elif role["skene_owner"] is not None and not role["owns_skene"]:
        yield Problem("database", f"schema skene belongs to {role['skene_owner']}, not {user}: "
                                  "migrate cannot upgrade it",
                      f"run `skene-cdc migrate` as {role['skene_owner']}, or GRANT "
                      f"\"{role['skene_owner']}\" TO \"{user}\"")
    specs, _ = capture.resolve_all(ctx.conn, ctx.config)
    triggered = [s.table_name for s in specs if s.mode == "trigger"]
    rows = ctx.conn.execute(sql.load("inspect/table_privileges"),
                            {"tables": [s.table_name for s in specs]}).fetchall()
    for r in rows:
        where = f"database: {r['table_name']}"
        if r["table_name"] in triggered and not r["owns"]:
            yield Problem(where, f"role {user} does not own {r['table_name']} (owner: "
                                 f"{r['owner']}), so migrate cannot install its capture trigger "
                                 "(COMMENT ON and DROP TRIGGER need ownership; the TRIGGER "
                                 "privilege alone is not enough)",
                          f"run `skene-cdc migrate` as {r['owner']}, or GRANT \"{r['owner']}\" "
                          f"TO \"{user}\"")
        if not r["can_select"]:
            yield Problem(where, f"role {user} cannot read {r['table_name']}",
                          f"GRANT SELECT ON {r['table_name']} TO \"{user}\"")


def capture_role(ctx: CheckContext) -> Iterator[Problem]:
    """The trigger runs as the capture role, which may only append to skene's queue; no skene
    function may run with a superuser's rights."""
    if ctx.conn is None or not schema_installed(ctx.conn):
        return
    from skene_cdc.migrations.roles import CaptureRoleState, superuser_definers

    state = CaptureRoleState.read(ctx.conn, ctx.config.roles.capture)
    for message in state.problems():
        yield Problem("database", message,
                      f"run `skene-cdc migrate` (as a superuser or a role with CREATEROLE) to "
                      f"put the capture role {ctx.config.roles.capture} back in place")
    for fn in superuser_definers(ctx.conn):
        yield Problem("database", f"{fn} is SECURITY DEFINER and owned by a superuser: app code "
                                  "it reaches (a cast to json) would run as superuser",
                      f"ALTER FUNCTION {fn.split(' (')[0]} OWNER TO "
                      f"{ctx.config.roles.capture}; or run `skene-cdc migrate`")


def history_budget(ctx: CheckContext) -> Iterator[Problem]:
    """events.disk_budget: warn when the history would outgrow it at the recent daily rate."""
    budget = ctx.config.events.disk_budget
    if ctx.conn is None or budget is None or not schema_installed(ctx.conn):
        return
    from skene_cdc.listener.history import retention, status
    from skene_cdc.listener.slotops import human

    row = status(ctx.conn)[0]
    keep = retention(ctx.config)
    per_day = int(row["bytes_per_day"] or 0)
    where = ctx.config.where("events", "disk_budget")
    if keep is None and per_day:
        yield Problem(where, f"events.retention is forever and the history grows ~{human(per_day)}"
                             f"/day: it will pass the {human(budget)} budget in about "
                             f"{max(budget - int(row['history_bytes']), 0) // per_day} day(s)",
                      "set events.retention (e.g. 30d) or raise events.disk_budget", "warning")
        return
    days = max(keep.days, 1) if keep else 0
    projected = per_day * days + int(row["queue_bytes"] or 0)
    if projected > budget or int(row["history_bytes"]) > budget:
        yield Problem(where, f"the history would hold ~{human(projected)} ({human(per_day)}/day x "
                             f"{days} days of events.retention), over the {human(budget)} budget "
                             f"(now {human(int(row['history_bytes']))})",
                      "shorten events.retention, capture fewer tables or columns, or raise "
                      "events.disk_budget", "warning")

