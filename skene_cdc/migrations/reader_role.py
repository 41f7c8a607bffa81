"""The role SQL conditions run as (`roles.reader`, default skene_reader), made on every `migrate`.

It is NOLOGIN, a member of no role, and holds exactly the grants `reader_grants` lists: USAGE on
the schemas involved, SELECT on the configured app tables and on the skene relations conditions
are documented to read, EXECUTE on the skene functions those use. Whatever it holds beyond that
list is revoked, so the grants are least privilege by construction, not by a deny-list. It also
owns skene.condition_rows(text), the security-definer fence conditions run inside (see
sql/roles/condition_rows.sql for why SET LOCAL ROLE alone is not enough).

`migrate` runs what `plan_reader` returns (`migrate --sql` prints it); a second run plans nothing.
`uninstall` calls `release`, then `roles.drop_if_unused` once schema skene is gone. `skene-cdc
check` (`check_reader`) reports a missing role, one this connection cannot become, or one with
more rights than reading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.config import Config
from skene_cdc.db import Row, schema_installed
from skene_cdc.errors import PrerequisiteError
from skene_cdc.migrations import capture
from skene_cdc.migrations import logical as _logical  # noqa: F401  (its preflight reports first)
from skene_cdc.migrations.capture import CaptureSpec, Plan

META_KEY = "roles.reader"

# What conditions read in schema skene (docs/loops.md, the built-ins in sql/loops/). Relations that
# do not exist in an installed schema are skipped, so a later migration may rename one.
SKENE_RELATIONS = ("users", "events", "user_activity", "activity_daily", "user_events",
                   "user_plans", "enrolments", "loop_enrolments")
# users_rows(): skene.users is a view over it, and a view's reader must be able to call it.
SKENE_FUNCTIONS = ("spell_key(timestamp with time zone)", "epoch_us(timestamp with time zone)",
                   "users_rows()")

Kind = Literal["SCHEMA", "TABLE", "SEQUENCE", "COLUMN", "FUNCTION", "DATABASE"]


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege of the reader role. `name` is the table or `function(argtypes)`, None for a
    schema; `columns` narrows a SELECT to those columns (empty: the whole table)."""

    kind: Kind
    schema: str | None
    name: str | None
    privilege: str
    columns: tuple[str, ...] = ()

    def keys(self) -> list[tuple[str, str | None, str | None, str | None, str]]:
        """How the catalog lists this grant (one row per column for a column grant)."""
        if self.columns:
            return [("COLUMN", self.schema, self.name, c, self.privilege) for c in self.columns]
        return [(self.kind, self.schema, self.name, None, self.privilege)]

    def target(self) -> pgsql.Composable:
        if self.kind == "SCHEMA":
            return pgsql.Identifier(self.schema or "")
        if self.kind == "FUNCTION":
            # Our own constant signatures (SKENE_FUNCTIONS); argument types stay as written.
            fname, _, args = (self.name or "").partition("(")
            return pgsql.SQL("{}({}").format(pgsql.Identifier(self.schema or "", fname),
                                             pgsql.SQL(args))
        if self.kind == "DATABASE":
            return pgsql.Identifier(self.name or "")
        return pgsql.Identifier(self.schema or "", self.name or "")

    def statement(self, role: str, revoke: bool = False) -> pgsql.Composed:
        privilege: pgsql.Composable = pgsql.SQL(self.privilege)
        if self.columns:
            privilege = pgsql.SQL("{} ({})").format(privilege, pgsql.SQL(", ").join(
                pgsql.Identifier(c) for c in self.columns))
        kind = "TABLE" if self.kind == "COLUMN" else self.kind
        return pgsql.SQL(sql.load("roles/revoke" if revoke else "roles/grant")).format(
            privilege=privilege, kind=pgsql.SQL(kind), object=self.target(),
            role=pgsql.Identifier(role))

    def label(self) -> str:
        cols = f" ({', '.join(self.columns)})" if self.columns else ""
        obj = self.schema if self.kind == "SCHEMA" else (
            self.name if self.kind == "DATABASE" else f"{self.schema}.{self.name}")
        return f"{self.privilege}{cols} on {self.kind.lower()} {obj}"


def reader_grants(specs: Sequence[CaptureSpec], skene_relations: Iterable[str] = SKENE_RELATIONS
                  ) -> list[Grant]:
    """Everything the reader role may do, and nothing else: the one place that decides it.

    App tables are the configured ones (app.users.table, app.activity[].table), and of those only
    the columns capture keeps (skene.yaml's include/exclude, secret-looking names left out by
    default): a condition can no more read a password hash than skene.events holds one."""
    grants = {Grant("SCHEMA", "skene", None, "USAGE")}
    for spec in specs:
        grants.add(Grant("SCHEMA", spec.schema, None, "USAGE"))
        columns = () if spec.selection.mode == "all" else spec.selection.captured
        grants.add(Grant("TABLE", spec.schema, spec.table, "SELECT", tuple(columns)))
    grants.update(Grant("TABLE", "skene", name, "SELECT") for name in skene_relations)
    # skene.users says whether a re-engagement email went out for the user's current dormancy
    # spell: those two columns of the outbox, and nothing else of it (no addresses, no contexts).
    grants.add(Grant("TABLE", "skene", "deliveries", "SELECT", ("episode", "user_id")))
    grants.update(Grant("FUNCTION", "skene", fn, "EXECUTE") for fn in SKENE_FUNCTIONS)
    return sorted(grants)


def _role(name: str) -> pgsql.Identifier:
    return pgsql.Identifier(name)


def _load(name: str, **parts: pgsql.Composable) -> pgsql.Composed:
    return pgsql.SQL(sql.load(f"roles/{name}")).format(**parts)


def _fence_hash(conn: psycopg.Connection[Row], role: str) -> str:
    text = _load("condition_rows", comment=pgsql.Literal(""), role=_role(role)).as_string(conn)
    return "skene:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _existing_skene_relations(conn: psycopg.Connection[Row]) -> list[str]:
    return [name for name in SKENE_RELATIONS if conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AS ok", (f"skene.{name}",)).fetchone() == {"ok": True}]


def plan_reader(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec],
                installed: bool) -> Plan:
    plan = Plan()
    name = config.roles.reader
    role = _role(name)
    state = conn.execute(sql.load("roles/reader_state"), {"role": name}).fetchone()
    assert state is not None
    if not state["exists"]:
        plan.add(f"role {name} created (NOLOGIN: SQL conditions run as it)",
                 _load("create_reader", role=role))
    else:
        loose = [a for a in ("superuser", "bypassrls", "createrole", "createdb", "login",
                             "replication") if state[a]]
        if loose:
            plan.add(f"role {name}: {', '.join(a.upper() for a in loose)} taken away",
                     _load("reader_attributes", role=role))
        for granted in state["member_of"]:
            plan.add(f"role {name} is no longer a member of {granted}",
                     _load("revoke_membership", granted=pgsql.SQL(granted), role=role))
    if not state["user_is_superuser"] and not state["user_granted"]:
        plan.add(f"role {state['user']} may SET ROLE {name}",
                 _load("grant_membership", role=role, member=_role(state["user"])))

    relations = _existing_skene_relations(conn) if installed else list(SKENE_RELATIONS)
    # skene.users is (re)built whenever skene.yaml or the app's table changes it; the rebuild
    # gives this role its grants back itself (sql/capture/users_grants.sql).
    if "users" not in relations:
        relations.append("users")
    wanted = reader_grants(specs, relations)
    have: set[tuple[str, str | None, str | None, str | None, str]] = set()
    if state["exists"]:
        have = {(r["kind"], r["schema"], r["name"], r["column"], r["privilege"]) for r in
                conn.execute(sql.load("roles/reader_privileges"), {"role": name})}
    want_keys = {k for g in wanted for k in g.keys()}
    for g in wanted:
        if not set(g.keys()) <= have:
            plan.add(f"role {name}: {g.label()} granted", g.statement(name))
    for kind, schema, obj, column, privilege in sorted(have - want_keys, key=str):
        extra = Grant(kind, schema, obj, privilege,  # type: ignore[arg-type]
                      (column,) if column else ())
        plan.add(f"role {name}: {extra.label()} revoked (not something a condition reads)",
                 extra.statement(name, revoke=True))

    digest = _fence_hash(conn, name)
    fence = conn.execute(sql.load("roles/condition_rows_state")).fetchone() if installed else None
    if fence is None or fence["comment"] != digest or fence["owner"] != name \
            or not fence["definer"] or fence["public_execute"]:
        plan.add(f"skene.condition_rows: conditions run inside it, as {name}",
                 _load("condition_rows", comment=pgsql.Literal(digest), role=role))
    meta = None
    if installed:
        row = conn.execute("SELECT value FROM skene.meta WHERE key = %s", (META_KEY,)).fetchone()
        meta = row["value"] if row else None
    if meta != name:
        plan.add(f"skene.meta: {META_KEY} = {name}", pgsql.SQL(sql.load("logical/set_meta")).format(
            key=pgsql.Literal(META_KEY), value=pgsql.Literal(name)))
    return plan


def preflight(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec]) -> None:
    """Refuse before anything changes when this role cannot set the reader role up."""
    name = config.roles.reader
    state = conn.execute(sql.load("roles/reader_state"), {"role": name}).fetchone()
    assert state is not None
    conn.rollback()
    if state["user_is_superuser"]:
        return
    user = state["user"]
    fix = (f"As a superuser run `CREATE ROLE \"{name}\" NOLOGIN; GRANT \"{name}\" TO \"{user}\";` "
           f"once, then `skene-cdc migrate` again as {user}")
    if not state["exists"] and not state["user_can_create_roles"]:
        raise PrerequisiteError(
            f"role {user} may not create the role {name} that SQL conditions run as "
            "(roles.reader in skene.yaml), so nothing was changed", hint=fix)
    if state["exists"] and not state["user_granted"] and not (
            state["user_can_create_roles"] or state["user_is_admin"]):
        raise PrerequisiteError(
            f"role {user} is not a member of {name} (roles.reader) and may not grant itself "
            "membership, so the listener could not run conditions as it; nothing was changed",
            hint=f"As a superuser run `GRANT \"{name}\" TO \"{user}\";`")


def release(conn: psycopg.Connection[Row]) -> tuple[str | None, list[str]]:
    """Before schema skene is dropped: revoke what the reader holds outside it. Returns the role
    name migrate recorded (None if it recorded none) and what was done."""
    row = conn.execute("SELECT value FROM skene.meta WHERE key = %s", (META_KEY,)).fetchone()
    if row is None:
        return None, []
    name = str(row["value"])
    done: list[str] = []
    for r in conn.execute(sql.load("roles/reader_privileges"), {"role": name}).fetchall():
        if r["schema"] == "skene":
            continue  # goes with the schema
        grant = Grant(r["kind"], r["schema"], r["name"], r["privilege"],
                      (r["column"],) if r["column"] else ())
        conn.execute(grant.statement(name, revoke=True))
        done.append(f"role {name}: {grant.label()} revoked")
    return name, done


_EXCESS_FIX = {
    "attribute": "`ALTER ROLE \"{role}\" NO{detail};` (or run `skene-cdc migrate`, which does it)",
    "member of": "`REVOKE {detail} FROM \"{role}\";` (or run `skene-cdc migrate`, which does it)",
    "write": "REVOKE those privileges from \"{role}\" (and from PUBLIC if they were granted to "
             "everyone); a condition only reads",
    "create": "REVOKE that CREATE from \"{role}\" (and from PUBLIC if it was granted to "
              "everyone, e.g. `REVOKE CREATE ON SCHEMA public FROM PUBLIC;`)",
}


def check_reader(ctx: CheckContext) -> Iterable[Problem]:
    """`skene-cdc check`: the reader role exists, this connection may become it, the fence
    function is its own, and it can do nothing but read."""
    conn = ctx.conn
    if conn is None or not schema_installed(conn):
        return []  # migrations_current already says to run migrate
    name = ctx.config.roles.reader
    where = ctx.config.where("roles", "reader")
    found: list[Problem] = []
    state = conn.execute(sql.load("roles/reader_state"), {"role": name}).fetchone()
    assert state is not None
    if not state["exists"]:
        found.append(Problem(where, f"the role {name} (roles.reader), which SQL conditions run "
                                    "as, does not exist, so no condition can be evaluated",
                             "run `skene-cdc migrate`"))
        conn.rollback()
        return found
    if not state["user_is_member"]:
        found.append(Problem(
            "database", f"role {state['user']} (this DATABASE_URL) may not SET ROLE {name}, so a "
                        "listener connected as it cannot evaluate conditions",
            f"run `skene-cdc migrate` as {state['user']}, or as a superuser "
            f"`GRANT \"{name}\" TO \"{state['user']}\";`"))
    fence = conn.execute(sql.load("roles/condition_rows_state")).fetchone()
    if fence is None or fence["owner"] != name or not fence["definer"] or fence["public_execute"]:
        found.append(Problem("database", "skene.condition_rows, the function conditions run "
                                         f"inside, is missing or not {name}'s own",
                             "run `skene-cdc migrate`"))
    for row in conn.execute(sql.load("roles/reader_excess"), {"role": name}):
        found.append(Problem(
            "database", f"the role {name}, which SQL conditions run as, has more rights than "
                        f"reading: {row['kind']} {row['detail']}",
            _EXCESS_FIX[row["kind"]].format(role=name, detail=row["detail"])))
    conn.rollback()
    return found


capture.EXTRA_PLANNERS.append(plan_reader)
capture.PREFLIGHTS.append(preflight)
