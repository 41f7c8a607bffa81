"""The app's captured tables now, against what `migrate` built skene for: a mapped column the app
renamed or dropped, a table that is gone, a column whose name looks secret that capture copies,
and whether `skene.users` still works. Read-only, from the database alone (the registry
`skene.captured_tables` and the catalog), so `status` can show it without skene.yaml; `check`
adds what skene.yaml says (inspect/column_checks.py) and the listener acts on it
(migrations/users_watch.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.errors import first_line
from skene_cdc.migrations.columns import secret_reason, secrets_captured
from skene_cdc.migrations.users_view import lost_columns

# registry column -> (skene.yaml key for a users table, for an activity table, what rows lose)
MAPPED = {
    "user_id_column": ("app.users.id", "user_id", "their user"),
    "timestamp_column": ("app.users.created_at", "timestamp",
                         "their own time (they are dated by capture time)"),
    "event_column": ("", "event", "their event name (they are named <table>.<op>)"),
}
MIGRATE = "`skene-cdc migrate`"


@dataclass(frozen=True)
class Finding:
    table: str
    column: str | None
    problem: str
    fix: str
    severity: str = "error"  # "error" | "warning", as in `check`


def yaml_key(role: str, table: str, registry_column: str) -> str:
    users_key, activity_key, _ = MAPPED[registry_column]
    return users_key if role == "users" else f"{activity_key} of the activity entry for {table}"


def registry_findings(conn: psycopg.Connection[Row]) -> list[Finding]:
    out: list[Finding] = []
    for r in conn.execute(sql.load("capture/registry_columns")).fetchall():
        table = r["table_name"]
        columns: list[str] | None = r["columns"]
        if columns is None:
            out.append(Finding(table, None,
                               "the table no longer exists (the app renamed or dropped it): "
                               "nothing is captured from it",
                               f"point skene.yaml at its new name (or remove it), then {MIGRATE}"))
            continue
        mapped = [r[k] for k in MAPPED if r[k]]
        for key, (_, _, loses) in MAPPED.items():
            column = r[key]
            if column and column not in columns:
                where = yaml_key(r["role"], table, key)
                out.append(Finding(
                    table, column,
                    f"column {column!r} ({where} in skene.yaml) no longer exists: the app renamed "
                    f"or dropped it. Its rows are still captured, without {loses}; other tables "
                    "are captured as usual",
                    f"point {where} at the column's new name in skene.yaml (or remove it), then "
                    f"{MIGRATE}"))
        for column in secrets_captured(r["column_mode"], r["column_list"], columns, mapped):
            out.append(Finding(table, column,
                               f"column {column!r} looks secret ({secret_reason(column)}) and the "
                               "installed capture copies it into skene.events",
                               secret_fix(r["column_mode"]), "warning"))
    return out


def secret_fix(mode: str) -> str:
    if mode == "include":
        return (f"remove it from the table's `include:` in skene.yaml unless skene must read it, "
                f"then {MIGRATE}")
    return (f"with no column list for the table, {MIGRATE} leaves secret-looking columns out; "
            f"with an `exclude:` list, add it there, then {MIGRATE}")


_MISSING = re.compile(r'column u\.("(?:[^"]|"")+"|\w+) does not exist')


def users_view_error(conn: psycopg.Connection[Row]) -> str | None:
    """Why a query on skene.users fails now (None when it works). In a savepoint: the caller's
    transaction goes on."""
    try:
        with conn.transaction():
            conn.execute(sql.load("capture/users_probe"))
    except psycopg.Error as exc:
        return first_line(exc)
    return None


def missing_column(error: str) -> str | None:
    """The app column a failing skene.users names ('column u.full_name does not exist')."""
    m = _MISSING.search(error)
    if not m:
        return None
    name = m.group(1)
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def users_findings(conn: psycopg.Connection[Row]) -> list[Finding]:
    row = conn.execute(sql.load("capture/users_registered")).fetchone()
    table = row["table_name"] if row and row["table_name"] else "skene.users"
    error = users_view_error(conn)
    if error is None:
        return [Finding(table, column,
                        f"column {column!r} (app.users.{key} in skene.yaml) no longer exists: "
                        f"the app renamed or dropped it, and skene.users shows {key} as NULL",
                        f"point app.users.{key} at the column's new name in skene.yaml (or "
                        f"remove it), then {MIGRATE}")
                for key, column in lost_columns(row["comment"] if row else None)]
    column = missing_column(error)
    fix = (f"a running `skene-cdc listen` rebuilds skene.users within a minute; {MIGRATE} does it "
           "now")
    if column:
        fix += (f". If skene.yaml maps {column!r} (id, email, name or created_at), point it at the "
                "column's new name first")
    return [Finding(table, column, f"skene.users fails: {error}", fix)]


def findings(conn: psycopg.Connection[Row]) -> list[Finding]:
    """Everything wrong between the app's tables and installed capture, worst first."""
    seen: set[tuple[str, str | None]] = set()
    found = []
    for f in users_findings(conn) + registry_findings(conn):
        if f.column is None or (f.table, f.column) not in seen:  # the view's note says it best
            seen.add((f.table, f.column))
            found.append(f)
    return sorted(found, key=lambda f: f.severity != "error")


def status_section(conn: psycopg.Connection[Row]) -> list[dict[str, str | None]]:
    """`skene-cdc status` section `app_schema`: a row per finding (none when all is in step)."""
    return [{"table": f.table, "column": f.column, "severity": f.severity,
             "problem": f.problem, "fix": f.fix} for f in findings(conn)]
