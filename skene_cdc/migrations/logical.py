"""`migrate` for logically captured tables: the publication, the replication slot, replica
identity, and the names in skene.meta that `listen`, `status` and `uninstall` read.

Before anything changes, `preflight` refuses (with the exact fix) when the server or the role
cannot do logical replication. The slot is created after the plan's transaction commits: the
server refuses to create a logical slot in a transaction that has written, and the publication
must already be committed when decoding starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.config import Config
from skene_cdc.config.types import format_size
from skene_cdc.db import Row, table_ident
from skene_cdc.errors import PrerequisiteError
from skene_cdc.listener.slotops import SlotState, human, level
from skene_cdc.migrations import capture
from skene_cdc.migrations.capture import CaptureSpec, Plan

IDENT_KEY = "replica_identity:"


def _load(name: str, **parts: pgsql.Composable) -> pgsql.Composed:
    return pgsql.SQL(sql.load(f"logical/{name}")).format(**parts)


def logical_tables(config: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """(config path, table as written) of every logically captured table, without a database."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if config.capture_mode(config.app.users.capture) == "logical":
        out.append((("app", "users"), config.app.users.table))
    for i, act in enumerate(config.app.activity):
        if config.capture_mode(act.capture) == "logical":
            out.append((("app", "activity", i), act.table))
    return out


# -- prerequisites (shared by migrate's preflight and `skene-cdc check`) -------------------------

def problems(conn: psycopg.Connection[Row], config: Config, tables: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    where = config.where("capture")
    p = conn.execute(sql.load("logical/prereqs")).fetchone()
    assert p is not None
    if p["wal_level"] != "logical":
        restart = (f"pg_ctl restart -D {p['data_directory']}" if p["data_directory"]
                   else "pg_ctl restart -D <data directory>")
        found.append(Problem(
            "database", f"logical capture needs wal_level = logical, but this server has "
                        f"wal_level = {p['wal_level']}",
            f"as a superuser run `ALTER SYSTEM SET wal_level = logical;` then restart "
            f"PostgreSQL (`{restart}`, or `systemctl restart postgresql`; on a managed service "
            f"enable logical replication in its settings, e.g. rds.logical_replication = 1), "
            f"then run `skene-cdc migrate` again"))
    if not p["can_replicate"]:
        found.append(Problem(
            "database", f"role {p['role']} lacks the REPLICATION attribute that logical capture "
                        f"needs (to create and read a replication slot)",
            f"as a superuser run `ALTER ROLE \"{p['role']}\" REPLICATION;`"))
    if p["max_senders"] < 1:
        found.append(Problem(
            "database", "max_wal_senders is 0, so no replication connection is possible",
            "`ALTER SYSTEM SET max_wal_senders = 10;` then restart PostgreSQL"))
    slot = SlotState.read(conn, config.capture.slot)
    if slot is None and p["used_slots"] >= p["max_slots"]:
        found.append(Problem(
            where, f"all {p['max_slots']} replication slots (max_replication_slots) are in use",
            f"`ALTER SYSTEM SET max_replication_slots = {p['max_slots'] + 4};` then restart "
            f"PostgreSQL, or drop an unused slot (`SELECT pg_drop_replication_slot(name)`)"))
    if slot is not None and (slot.database != p["database"] or slot.plugin != "pgoutput"):
        owner = (f"database {slot.database}" if slot.database != p["database"]
                 else f"plugin {slot.plugin}")
        found.append(Problem(
            config.where("capture", "slot"),
            f"replication slot {slot.slot_name!r} already exists for {owner} and is not "
            f"skene's for this database",
            "set capture.slot in skene.yaml to another name (one slot per database)"))
    pub = conn.execute(sql.load("logical/publication_tables"),
                       {"publication": config.capture.publication}).fetchone()
    if pub is None and not p["can_create"]:
        found.append(Problem("database", f"role {p['role']} may not create the publication "
                                         f"(no CREATE privilege on database {p['database']})",
                             f"GRANT CREATE ON DATABASE \"{p['database']}\" TO \"{p['role']}\";"))
    for table in tables:
        info = conn.execute(sql.load("logical/table_identity"), {"table": table}).fetchone()
        if info is not None and not info["owned"]:
            found.append(Problem("database", f"role {p['role']} does not own {table}, and only "
                                             "the owner can publish it or set its replica identity",
                                 "run `skene-cdc migrate` as the table's owner"))
    return found


def preflight(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec]) -> None:
    tables = [s.table_name for s in specs if s.mode == "logical"]
    if not tables:
        return
    found = [pr for pr in problems(conn, config, tables) if pr.severity == "error"]
    conn.rollback()
    if found:
        raise PrerequisiteError(
            "logical capture cannot be set up, so nothing was changed:\n  "
            + "\n  ".join(str(pr) for pr in found),
            hint="Fix the above and run `skene-cdc migrate` again (tables may also use "
                 "`capture: trigger`, which needs none of this)")


def check_logical(ctx: CheckContext) -> Iterable[Problem]:
    """`skene-cdc check`: the same prerequisites, plus how the slot is doing."""
    tables = logical_tables(ctx.config)
    if not tables or ctx.conn is None:
        return []
    conn = ctx.conn
    found = problems(conn, ctx.config, [t for _, t in tables])
    p = conn.execute(sql.load("logical/prereqs")).fetchone()
    if p is not None and p["max_slot_wal_keep_size"] in ("-1", "-1MB", "-1kB"):
        limit = format_size(ctx.config.capture.max_slot_lag or 1024**3)
        found.append(Problem(
            "database", "max_slot_wal_keep_size is unlimited: if the listener is down for long, "
                        "its slot keeps WAL until the disk is full",
            f"as a superuser: `ALTER SYSTEM SET max_slot_wal_keep_size = '{limit}'; SELECT "
            f"pg_reload_conf();` (then PostgreSQL itself drops a slot that falls that far behind)",
            severity="warning"))
    slot = SlotState.read(conn, ctx.config.capture.slot)
    limit_bytes = ctx.config.capture.max_slot_lag
    if slot is not None and level(slot.lag_bytes, limit_bytes) != "ok":
        found.append(Problem(
            "database", f"replication slot {slot.slot_name} is {human(slot.lag_bytes)} behind "
                        f"(capture.max_slot_lag is {human(limit_bytes)})",
            "make sure `skene-cdc listen` runs and keeps up (see `skene-cdc status`)",
            severity="warning" if level(slot.lag_bytes, limit_bytes) == "warning" else "error"))
    conn.rollback()
    return found


# -- the plan ------------------------------------------------------------------------------------

def _natural_key(info: Row, original: str | None) -> list[str] | None:
    """Columns a delete's old row would carry under the table's own (pre-skene) identity."""
    ident = (original or info["ident"])[0]
    if ident == "f":
        return ["*"]
    if ident == "i":
        return info["index_columns"]  # type: ignore[no-any-return]
    if ident == "d":
        return info["pk_columns"]  # type: ignore[no-any-return]
    return None


def _original(info: Row) -> str:
    if info["ident"] == "i" and info["ident_index"]:
        return f"i:{info['ident_index']}"
    return str(info["ident"])


def _restore(table: str, original: str) -> pgsql.Composed:
    identity: pgsql.Composable
    if original.startswith("i:"):
        identity = pgsql.SQL("USING INDEX {}").format(pgsql.Identifier(original[2:]))
    else:
        identity = pgsql.SQL({"n": "NOTHING", "f": "FULL"}.get(original, "DEFAULT"))
    return _load("replica_identity", table=table_ident(table), identity=identity)


def _set_meta(plan: Plan, meta: dict[str, Any], key: str, value: str | None, label: str) -> None:
    if meta.get(key) == value:
        return
    if value is None:
        plan.add(label, _load("delete_meta", key=pgsql.Literal(key)))
    else:
        plan.add(label, _load("set_meta", key=pgsql.Literal(key), value=pgsql.Literal(value)))


def plan_logical(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec],
                 installed: bool) -> Plan:
    plan = Plan()
    cap = config.capture
    logical = [s for s in specs if s.mode == "logical"]
    wanted = sorted(s.table_name for s in logical)
    meta: dict[str, Any] = {}
    if installed:
        meta = {r["key"]: r["value"] for r in conn.execute(sql.load("logical/meta"))}
    changed = {k[len(IDENT_KEY):]: v for k, v in meta.items() if k.startswith(IDENT_KEY)}

    # Replica identity: what a delete (and an update of a TOASTed row) will tell us.
    keep_full: set[str] = set()
    for spec in logical:
        info = conn.execute(sql.load("logical/table_identity"), {"table": spec.table_name}
                            ).fetchone()
        assert info is not None
        natural = _natural_key(info, changed.get(spec.table_name))
        need = cap.replica_identity == "full" or natural is None or (
            "*" not in natural and spec.user_id_column not in natural)
        if not need:
            continue
        keep_full.add(spec.table_name)
        if info["ident"] != "f":
            why = ("replica_identity: full" if cap.replica_identity == "full" else
                   f"deletes must carry {spec.user_id_column}")
            plan.add(f"{spec.table_name}: REPLICA IDENTITY FULL ({why})",
                     _load("replica_identity", table=table_ident(spec.table_name),
                           identity=pgsql.SQL("FULL")))
            if spec.table_name not in changed:
                _set_meta(plan, meta, IDENT_KEY + spec.table_name, _original(info),
                          f"{spec.table_name}: original replica identity recorded")
    for table, original in sorted(changed.items()):
        if table in keep_full:
            continue
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL AS ok", (table,)).fetchone() == {
                "ok": True}:
            plan.add(f"{table}: replica identity restored", _restore(table, original))
        _set_meta(plan, meta, IDENT_KEY + table, None, f"{table}: replica identity forgotten")

    # The publication: exactly the logically captured tables.
    old_pub = meta.get("publication")
    if old_pub and old_pub != cap.publication or (old_pub and not logical):
        plan.add(f"publication {old_pub} dropped",
                 _load("drop_publication", publication=pgsql.Identifier(old_pub)))
    if logical:
        pub = conn.execute(sql.load("logical/publication_tables"),
                           {"publication": cap.publication}).fetchone()
        tables = pgsql.SQL(", ").join(table_ident(t) for t in wanted)
        name = pgsql.Identifier(cap.publication)
        if pub is None:
            plan.add(f"publication {cap.publication} created for {', '.join(wanted)}",
                     _load("create_publication", publication=name, tables=tables))
        elif sorted(pub["tables"]) != wanted:
            plan.add(f"publication {cap.publication} now covers {', '.join(wanted)}",
                     _load("set_publication", publication=name, tables=tables))

    # The slot, created once the publication is committed.
    old_slot = meta.get("slot")
    if old_slot and (old_slot != cap.slot or not logical):
        plan.add(f"replication slot {old_slot} dropped",
                 _load("drop_slot", slot=pgsql.Literal(old_slot)))
    if logical:
        state = SlotState.read(conn, cap.slot)
        create = _load("create_slot", slot=pgsql.Literal(cap.slot))
        if state is None:
            plan.add(f"replication slot {cap.slot} created (pgoutput)", create, after_commit=True)
        elif state.wal_status == "lost":
            plan.add(f"replication slot {cap.slot} was invalidated by the server (changes after "
                     f"{state.confirmed_flush_lsn} were not captured): dropped",
                     _load("drop_slot", slot=pgsql.Literal(cap.slot)))
            plan.add(f"replication slot {cap.slot} created again", create, after_commit=True)
    limit = cap.max_slot_lag
    for key, value in (("slot", cap.slot), ("publication", cap.publication),
                       ("max_slot_lag", "off" if limit is None else str(limit))):
        _set_meta(plan, meta, key, value if logical else None,
                  f"skene.meta: {key} = {value}" if logical else f"skene.meta: {key} removed")
    return plan


capture.EXTRA_PLANNERS.append(plan_logical)
capture.PREFLIGHTS.append(preflight)
