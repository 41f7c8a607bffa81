"""Re-apply capture from skene.yaml on every `migrate`: triggers on the configured tables (a hash of
their definition in COMMENT ON TRIGGER detects drift), the generated `skene.users` view, and the
`skene.captured_tables` registry. Running it twice changes nothing the second time."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.models import CaptureMode, ColumnChoice
from skene_cdc.db import Row
from skene_cdc.errors import ConfigError
from skene_cdc.migrations.columns import Selection, SelectionError, select

TIME_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")


@dataclass(frozen=True)
class CaptureSpec:
    """One configured table, resolved against the database."""

    table_name: str  # "schema.table", unquoted, as skene.events.table_name stores it
    schema: str
    table: str
    mode: CaptureMode
    role: str  # "users" | "activity"
    user_id_column: str
    timestamp_column: str | None
    event_column: str | None
    columns: tuple[str, ...] = field(default=(), compare=False)
    user_id_type: str | None = field(default=None, compare=False)
    selection: Selection = field(default=Selection("all", (), (), ()))
    relid: int = field(default=0, compare=False)
    # The session settings its rows' JSON depends on (sql/capture/pin_mask.sql): the trigger
    # pins those, and only when the writer's session differs.
    pin: int = 63
    # Partitioned, a partition, or in an inheritance tree: every change captured per row.
    per_row: bool = False
    # column -> its type without modifiers, for the columns skene.users exposes
    base_types: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def ident(self) -> pgsql.Identifier:
        return pgsql.Identifier(self.schema, self.table)

    @property
    def activity(self) -> bool:
        return self.role == "activity"

    def trigger_args(self) -> pgsql.Composable:
        """What leaves the table; how a row becomes an event (user, time, name) is the
        listener's business, from skene.captured_tables."""
        args = [*self.selection.trigger_args(), str(self.pin)]
        if self.per_row:  # rows of its partitions name this table, not the partition
            args.append(str(self.relid))
        return pgsql.SQL(", ").join(pgsql.Literal(a) for a in args)


@dataclass
class Plan:
    """What a sync would run, statement by statement, with a label a person can read."""

    steps: list[tuple[str, pgsql.Composed | pgsql.SQL]] = field(default_factory=list)
    # Statements that must not run inside the plan's transaction (creating a logical replication
    # slot refuses a transaction that has written): run after it commits, in order.
    after: list[tuple[str, pgsql.Composed | pgsql.SQL]] = field(default_factory=list)

    def add(self, label: str, statement: pgsql.Composed | pgsql.SQL, *,
            after_commit: bool = False) -> None:
        (self.after if after_commit else self.steps).append((label, statement))

    def labels(self) -> list[str]:
        return [label for label, _ in self.steps + self.after]

    def render(self, conn: psycopg.Connection[Row]) -> str:
        text = "\n".join(f"-- {label}\n{stmt.as_string(conn).strip()}" for label, stmt in self.steps)
        if self.after:
            text += "\n-- after COMMIT, outside any transaction:\n" + "\n".join(
                f"-- {label}\n{stmt.as_string(conn).strip()}" for label, stmt in self.after)
        return text


@dataclass(frozen=True)
class ResolveProblem:
    """A configured table or column that the database does not have (`where` is skene.yaml:LINE)."""

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def resolve(conn: psycopg.Connection[Row], config: Config) -> list[CaptureSpec]:
    """Check every configured table and column exists; report all problems at once."""
    specs, problems = resolve_all(conn, config)
    if problems:
        raise ConfigError("skene.yaml does not match the database:\n  "
                          + "\n  ".join(str(p) for p in problems),
                          hint="Fix the names in skene.yaml (or run `skene-cdc init` to "
                               "inspect the database)")
    return specs


def resolve_all(conn: psycopg.Connection[Row], config: Config
                ) -> tuple[list[CaptureSpec], list[ResolveProblem]]:
    """Resolve what can be resolved and collect every mismatch (`check` lists them all; `migrate`
    refuses to start while there is any). Read-only."""
    problems: list[ResolveProblem] = []
    specs: list[CaptureSpec] = []
    users = config.app.users
    entries: list[tuple[tuple[str | int, ...], str, str, CaptureMode, dict[str, str | None],
                        ColumnChoice]] = [
        (("app", "users"), users.table, "users", config.capture_mode(users.capture),
         {"id": users.id, "email": users.email, "name": users.name,
          "created_at": users.created_at, "stripe_customer_id": users.stripe_customer_id}, users),
    ]
    for i, act in enumerate(config.app.activity):
        entries.append((("app", "activity", i), act.table, "activity",
                        config.capture_mode(act.capture),
                        {"user_id": act.user_id, "timestamp": act.timestamp, "event": act.event},
                        act))
    seen: dict[str, tuple[str | int, ...]] = {}
    for path, name, role, mode, cols, choice in entries:
        rows = conn.execute(sql.load("queries/table_columns"), {"name": name}).fetchall()
        if not rows:
            problems.append(ResolveProblem(
                config.where(*path, "table"),
                f"table {name!r} ({_dotted(path)}.table) does not exist in this database"))
            continue
        schema, table = rows[0]["schema"], rows[0]["table"]
        qualified = f"{schema}.{table}"
        if qualified in seen:
            problems.append(ResolveProblem(config.where(*path, "table"),
                                           f"table {qualified} is configured twice"))
            continue
        seen[qualified] = path
        types = {r["column"]: r["type"] for r in rows}
        for key, column in cols.items():
            if column is None:
                continue
            if column not in types:
                close = difflib.get_close_matches(column, list(types), n=1, cutoff=0.75)
                problems.append(ResolveProblem(
                    config.where(*path, key),
                    f"{_dotted(path)}.{key}: column {column!r} does not exist in {qualified} "
                    f"(it has: {', '.join(types)})",
                    f"did you mean {close[0]!r}" if close else ""))
            elif key in ("timestamp", "created_at") and types[column] not in TIME_TYPES:
                times = [c for c, t in types.items() if t in TIME_TYPES]
                problems.append(ResolveProblem(
                    config.where(*path, key),
                    f"{_dotted(path)}.{key}: column {column!r} is {types[column]}, "
                    "not a timestamp",
                    f"use a timestamp column ({', '.join(times)})" if times
                    else f"remove {key}: {qualified} has no timestamp column"))
        user_col = cols.get("user_id") or cols["id"]
        try:
            selection = select(choice, list(types), [c for c in cols.values() if c])
        except SelectionError as exc:
            key = "include" if choice.include is not None else "exclude"
            problems.append(ResolveProblem(config.where(*path, key),
                                           f"{_dotted(path)}.{key}: {exc}"))
            selection = Selection("all", (), tuple(types), ())
        specs.append(CaptureSpec(
            table_name=qualified, schema=schema, table=table, mode=mode, role=role,
            user_id_column=user_col or "id",
            timestamp_column=cols.get("timestamp") or cols.get("created_at"),
            event_column=cols.get("event"), columns=tuple(types),
            user_id_type=types.get(user_col or "id"), selection=selection,
            relid=rows[0]["relid"], pin=_pin_mask(conn, rows[0]["relid"]),
            per_row=bool(rows[0]["in_hierarchy"]),
            base_types=tuple((r["column"], r["base_type"]) for r in rows)))
    return specs, problems


def _pin_mask(conn: psycopg.Connection[Row], relid: int) -> int:
    row = conn.execute(sql.load("capture/pin_mask"), {"relid": relid}).fetchone()
    return int(row["pin"]) if row else 63


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                   for i, p in enumerate(path))


def install_sql(spec: CaptureSpec) -> str:
    return sql.load("capture/install_trigger_rows" if spec.per_row else "capture/install_trigger")


def trigger_hash(spec: CaptureSpec, conn: psycopg.Connection[Row]) -> str:
    ddl = pgsql.SQL(install_sql(spec)).format(
        table=spec.ident, args=spec.trigger_args(), comment=pgsql.Literal(""))
    return hashlib.sha256(ddl.as_string(conn).encode()).hexdigest()[:16]


def plan_triggers(conn: psycopg.Connection[Row], specs: Sequence[CaptureSpec],
                  installed: bool) -> Plan:
    plan = Plan()
    existing: dict[str, dict[str, str]] = {}
    places: dict[str, tuple[str, str]] = {}
    if installed:
        for row in conn.execute(sql.load("queries/capture_triggers")):
            existing.setdefault(row["table_name"], {})[row["trigger"]] = row["comment"]
            places[row["table_name"]] = (row["schema"], row["table"])
    wanted = {s.table_name: s for s in specs if s.mode == "trigger"}
    logical = {s.table_name for s in specs if s.mode == "logical"}
    for name in existing:
        if name not in wanted:
            why = ("now captured by logical replication, trigger removed" if name in logical
                   else "no longer in skene.yaml, capture removed")
            plan.add(f"{name}: {why}", pgsql.SQL(sql.load("capture/drop_trigger")).format(
                table=pgsql.Identifier(*places[name])))
    for name, spec in wanted.items():
        digest = f"skene:{trigger_hash(spec, conn)}"
        have = existing.get(name, {})
        if have and set(have.values()) == {digest} and len(have) == (2 if spec.per_row else 4):
            continue
        if have:
            plan.add(f"{name}: capture definition changed (drift), replaced",
                     pgsql.SQL(sql.load("capture/drop_trigger")).format(table=spec.ident))
        plan.add(f"{name}: trigger capture installed",
                 pgsql.SQL(install_sql(spec)).format(
                     table=spec.ident, args=spec.trigger_args(),
                     comment=pgsql.Literal(digest)))
    return plan


def plan_registry(conn: psycopg.Connection[Row], specs: Sequence[CaptureSpec],
                  installed: bool) -> Plan:
    """Keep skene.captured_tables equal to the config (read by status, uninstall, the listener)."""
    plan = Plan()
    current: dict[str, str] = {}
    if installed:
        current = {r["table_name"]: r["definition_hash"] for r in
                   conn.execute("SELECT table_name, definition_hash FROM skene.captured_tables")}
    for spec in specs:
        values: dict[str, object] = {
            "table_name": spec.table_name, "mode": spec.mode, "role": spec.role,
            "user_id_column": spec.user_id_column, "timestamp_column": spec.timestamp_column,
            "event_column": spec.event_column, "relid": spec.relid,
            "column_mode": spec.selection.mode, "column_list": list(spec.selection.listed),
            "capture_unchanged": spec.selection.keep_unchanged}
        # The hash of what is registered, not of the whole spec: the app adding or dropping a
        # column it does not map is no change here.
        digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:16]
        if current.get(spec.table_name) == digest:
            continue
        plan.add(f"{spec.table_name}: registered as {spec.role}, {spec.mode} capture", pgsql.SQL(
            sql.load("capture/register_table")).format(**{
                k: pgsql.Literal(v) for k, v in {**values, "hash": digest}.items()}))
    gone = sorted(set(current) - {s.table_name for s in specs})
    if gone:
        plan.add(f"unregistered: {', '.join(gone)}", pgsql.SQL(
            "DELETE FROM skene.captured_tables WHERE table_name = ANY({});").format(
                pgsql.Literal(gone)))
    return plan


def plan_capture_start(conn: psycopg.Connection[Row], specs: Sequence[CaptureSpec],
                       installed: bool) -> Plan:
    """Record, once per table, the snapshot at which its capture began (`capture_start:<table>`
    in skene.meta): backfill imports exactly the rows written before it. Runs after the trigger
    steps, in their transaction, so the trigger's lock makes the boundary exact."""
    plan = Plan()
    have: set[str] = set()
    if installed:
        have = {r["key"] for r in conn.execute(sql.load("queries/capture_starts"))}
    for spec in specs:
        key = f"capture_start:{spec.table_name}"
        if key not in have:
            plan.add(f"{spec.table_name}: capture start recorded",
                     pgsql.SQL(sql.load("capture/record_start")).format(key=pgsql.Literal(key)))
    return plan


# Extra planners (logical replication's publication and slot, the secret-column scrub, the
# conditions' reader role) append themselves here when migrations/runner.py imports them, so
# `migrate` stays one command that brings the database in line with skene.yaml.
Planner = Callable[[psycopg.Connection[Row], Config, Sequence[CaptureSpec], bool], Plan]
EXTRA_PLANNERS: list[Planner] = []
# Checks run before `migrate` changes anything (wal_level, privileges...): raise to refuse.
Preflight = Callable[[psycopg.Connection[Row], Config, Sequence[CaptureSpec]], None]
PREFLIGHTS: list[Preflight] = []


def preflight(conn: psycopg.Connection[Row], config: Config) -> list[CaptureSpec]:
    specs = resolve(conn, config)
    for check in PREFLIGHTS:
        check(conn, config, specs)
    return specs


def plan_sync(conn: psycopg.Connection[Row], config: Config, installed: bool = True) -> Plan:
    from skene_cdc.migrations.roles import plan_capture_role
    from skene_cdc.migrations.users_view import plan_users_view

    specs = resolve(conn, config)
    plan = Plan()
    for part in (plan_capture_role(conn, config, specs, installed),
                 plan_triggers(conn, specs, installed),
                 plan_users_view(conn, config, specs, installed),
                 plan_registry(conn, specs, installed),
                 plan_capture_start(conn, specs, installed),
                 *(p(conn, config, specs, installed) for p in EXTRA_PLANNERS)):
        plan.steps.extend(part.steps)
        plan.after.extend(part.after)
    return plan


# on_step(done, total, label): progress reporting while a step waits for a table lock.
StepCallback = Callable[[int, int, str], None]


def apply(conn: psycopg.Connection[Row], plan: Plan, on_step: StepCallback | None = None) -> None:
    total = len(plan.steps) + len(plan.after)
    with conn.transaction():
        for i, (label, statement) in enumerate(plan.steps):
            if on_step:
                on_step(i, total, label)
            conn.execute(statement)
        if on_step and not plan.after:
            on_step(total, total, "")
    if plan.after:
        conn.commit()
        autocommit = conn.autocommit
        conn.autocommit = True
        try:
            for j, (label, statement) in enumerate(plan.after):
                if on_step:
                    on_step(len(plan.steps) + j, total, label)
                conn.execute(statement)
        finally:
            conn.autocommit = autocommit
        if on_step:
            on_step(total, total, "")
