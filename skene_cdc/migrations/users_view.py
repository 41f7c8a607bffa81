"""The generated `skene.users` view and `skene.users_by_id()`, from skene.yaml and the users
table's columns now. Neither depends on the app's columns in a way PostgreSQL enforces (their
bodies are strings), so the app's migrations never fail because of them; when the table changes
under them, `migrate`, `check`, `status` and the listener notice and rebuild or say what to fix."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.migrations.capture import CaptureSpec, Plan

# The columns skene.users computes itself, in order, with their types; the app's other captured
# columns follow them.
COMPUTED = (
    ("user_id", "text"), ("email", "text"), ("name", "text"), ("created_at", "timestamptz"),
    ("first_seen_at", "timestamptz"), ("last_activity_at", "timestamptz"), ("last_event", "text"),
    ("last_event_data", "jsonb"), ("activity_this_week", "bigint"),
    ("activity_last_week", "bigint"), ("plan", "text"), ("re_engagement_sent", "boolean"),
)
RESERVED_VIEW_COLUMNS = {name for name, _ in COMPUTED}
USERS_VIEW_LABEL = "skene.users view (re)built from skene.yaml"
LOST_MARK = " lost:"  # in the view's comment, after the hash: mapped columns read as NULL


def extra_columns(config: Config, spec: CaptureSpec) -> list[tuple[str, str]]:
    """The users table's other captured columns, with their types without modifiers (so the app
    can widen a varchar without skene.users noticing)."""
    cfg = config.app.users
    used = {cfg.id, cfg.email, cfg.name, cfg.created_at}
    return [(c, t) for c, t in spec.base_types
            if c not in RESERVED_VIEW_COLUMNS and c not in used and spec.selection.keeps(c)]


class UsersViewError(ValueError):
    """skene.users cannot be built at all: the users table has lost its id column."""


def gone(config: Config, spec: CaptureSpec) -> list[tuple[str, str]]:
    """(skene.yaml key, column) of the users table's mapped columns that the table no longer has
    (the app renamed or dropped them)."""
    cfg = config.app.users
    present = set(spec.columns)
    return [(key, column) for key, column in (("id", cfg.id), ("email", cfg.email),
                                              ("name", cfg.name), ("created_at", cfg.created_at))
            if column is not None and column not in present]


def plan_users_view(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec],
                    installed: bool, *, degrade: bool = False) -> Plan:
    """The statements that bring skene.users and skene.users_by_id in line with skene.yaml and
    the users table (none when they are). With `degrade` (the listener, after the app changed the
    table), a mapped column the table lost reads as NULL instead, so skene.users keeps working
    until skene.yaml is fixed; `migrate` never degrades (it refuses such a config first)."""
    users_spec = next(s for s in specs if s.role == "users")
    cfg = config.app.users
    lost = dict(gone(config, users_spec)) if degrade else {}
    if "id" in lost:
        raise UsersViewError(f"{users_spec.table_name} has no column {cfg.id!r} (app.users.id)")
    lost_columns = set(lost.values())

    def col(name: str | None, cast: str) -> pgsql.Composable:
        if name is None or name in lost_columns:
            return pgsql.SQL("NULL::" + cast)
        return pgsql.SQL("u.{}::" + cast).format(pgsql.Identifier(name))

    extra = extra_columns(config, users_spec)
    extra_sql = pgsql.SQL("").join(
        pgsql.SQL(",\n       u.{}::{} AS {}").format(pgsql.Identifier(c), pgsql.SQL(t),
                                                     pgsql.Identifier(c)) for c, t in extra)
    columns = pgsql.SQL(", ").join(
        pgsql.SQL("{} {}").format(pgsql.Identifier(c), pgsql.SQL(t))
        for c, t in (*COMPUTED, *extra))
    select = pgsql.SQL(sql.load("capture/users_select")).format(
        id=pgsql.Identifier(cfg.id),
        email=col(cfg.email, "text"), name=col(cfg.name, "text"),
        created_at=col(cfg.created_at, "timestamptz"), extra=extra_sql, users=users_spec.ident)
    lookup = select + pgsql.SQL("WHERE {key}\n  AND u.{id}::text = ANY(ids)\n").format(
        key=_key_match(cfg.id, users_spec.user_id_type), id=pgsql.Identifier(cfg.id))

    def build(comment: str) -> pgsql.Composed:
        return (pgsql.SQL(sql.load("capture/users_view")).format(
                    columns=columns, body=_dollar_quoted(select.as_string(conn)),
                    comment=pgsql.Literal(comment))
                + pgsql.SQL("\n") + pgsql.SQL(sql.load("capture/users_by_id")).format(
                    body=_dollar_quoted(lookup.as_string(conn)))
                + pgsql.SQL("\n") + pgsql.SQL(sql.load("capture/users_grants")).format(
                    reader=pgsql.Literal(config.roles.reader)))

    digest = "skene:" + hashlib.sha256(build("").as_string(conn).encode()).hexdigest()[:16]
    plan = Plan()
    current = None
    if installed:
        row = conn.execute(sql.load("capture/users_state")).fetchone()
        current = row["comment"] if row and row["complete"] else None  # rebuild what was dropped
    if (current or "").split(LOST_MARK)[0] != digest:
        label = USERS_VIEW_LABEL
        comment = digest
        if lost:
            label += " without " + ", ".join(
                f"{key} ({users_spec.table_name} has no column {column!r})"
                for key, column in lost.items())
            # `status` reads it back (app_schema.py): the view works, but shows NULL there.
            comment += LOST_MARK + json.dumps(lost)
        plan.add(label, pgsql.SQL(sql.load("capture/users_drop")) + build(comment))
    return plan


def lost_columns(comment: str | None) -> list[tuple[str, str]]:
    """(skene.yaml key, column) that a degraded skene.users shows as NULL, from its comment."""
    if not comment or LOST_MARK not in comment:
        return []
    try:
        lost = json.loads(comment.split(LOST_MARK, 1)[1])
    except ValueError:
        return []
    return [(str(k), str(c)) for k, c in lost.items()] if isinstance(lost, dict) else []


def _dollar_quoted(body: str) -> pgsql.Composable:
    """A function body as a DBA would write it (`migrate --sql` shows it), with a tag the body
    cannot end early."""
    tag = "$body$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return pgsql.SQL(f"{tag}\n{body}{tag}")


INTEGER_TYPES = ("smallint", "integer", "bigint")
UUID_PATTERN = "^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"


def _key_match(column: str, type_: str | None) -> pgsql.Composable:
    """`u.<id> = ANY(<ids in the id's own type>)`, so the app's index on its id serves lookups.
    Ids that cannot be that type are dropped before the cast (they match no user anyway);
    other types fall back to the text comparison alone."""
    ident = pgsql.Identifier(column)
    if type_ in INTEGER_TYPES:  # int = bigint is indexable, and bigint holds every integer key
        return pgsql.SQL("u.{} = ANY(ARRAY(SELECT x::bigint FROM unnest(ids) x "
                         "WHERE x ~ '^-?[0-9]{{1,18}}$'))").format(ident)
    if type_ == "uuid":
        return pgsql.SQL("u.{} = ANY(ARRAY(SELECT x::uuid FROM unnest(ids) x "
                         "WHERE x ~* {}))").format(ident, pgsql.Literal(UUID_PATTERN))
    if type_ == "text" or (type_ or "").startswith("character varying"):
        return pgsql.SQL("u.{} = ANY(ids)").format(ident)
    return pgsql.SQL("true")
