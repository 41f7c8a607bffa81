"""Which personalization values would fail for some users: a value that reads a `user` column
that can be NULL or empty (an optional `full_name`, Django's `first_name` left empty by its signup
form, `last_activity_at` of a user who never did anything) and has no fallback renders nothing
for them, and their email is never sent. `check` and `preview` report these before any email is
lost; the fix is a `{value, fallback}` in skene.yaml (or `or` / `| default` in the value)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from jinja2 import TemplateSyntaxError, nodes
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.loops import (
    DecliningCondition,
    DormantCondition,
    MilestoneCondition,
    Personalization,
    StoppedCondition,
)
from skene_cdc.db import Row
from skene_cdc.handlers.email.actions import EmailUse, email_uses
from skene_cdc.handlers.email.templates import TEXT_ENV, split_spec

# skene's own columns of skene.users that are NULL until the user's first activity.
NO_ACTIVITY = ("last_activity_at", "last_event", "last_event_data", "first_seen_at")
# The columns a built-in condition gives each user it picks (never NULL for them).
SUPPLIED = {
    DormantCondition: {"last_activity_at", "last_event", "days_inactive"},
    DecliningCondition: {"activity_this_week", "activity_last_week"},
    StoppedCondition: {"stopped_event", "last_used_at", "times_used"},
    MilestoneCondition: {"milestone", "milestone_total"},
}
SAMPLE = 10_000  # rows of the users table looked at for values that are already empty


@dataclass(frozen=True)
class Risk:
    """A personalization key that would render nothing for some users."""

    use: EmailUse
    key: str
    column: str  # the `user.<column>` it reads
    why: str     # "public.users.full_name can be NULL", "... is empty or NULL for user 3", ...
    current_user: str | None = None  # a user for whom it is NULL or empty right now

    @property
    def message(self) -> str:
        return (f"loop {self.use.loop.name!r}, template {self.use.template!r}: personalization "
                f"{self.key!r} reads user.{self.column} with no fallback, but {self.why}; those "
                "users' emails would fail")

    @property
    def fix(self) -> str:
        value = split_spec(self.use.action.personalization[self.key])[0]
        return (f"give it a fallback: `{self.key}: {{value: \"{value}\", fallback: there}}` "
                f"(or write `{{{{ user.{self.column} or 'there' }}}}`)")


def unguarded_reads(source: str) -> set[str]:
    """The `user.<column>`s a template string prints with nothing to stand in when they are NULL
    or empty (no `or`, no `| default`, not inside `{% if user.<column> %}`)."""
    found: set[str] = set()

    def user_column(node: nodes.Node) -> str | None:
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) \
                and node.node.name == "user":
            return node.attr
        if isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) \
                and node.node.name == "user" and isinstance(node.arg, nodes.Const):
            return str(node.arg.value)
        return None

    def walk(node: nodes.Node, guarded: frozenset[str]) -> None:
        column = user_column(node)
        if column is not None:
            if column not in guarded:
                found.add(column)
            return
        if isinstance(node, nodes.Or):
            walk(node.right, guarded)  # the left side has the right one to fall back on
            return
        if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
            return
        if isinstance(node, nodes.CondExpr | nodes.If):
            tests = [node.test, *node.test.find_all((nodes.Getattr, nodes.Getitem))]
            tested = frozenset(c for n in tests if (c := user_column(n)) is not None)
            for child in node.iter_child_nodes():
                if child is not node.test:
                    walk(child, guarded | tested)
            return
        for child in node.iter_child_nodes():
            walk(child, guarded)

    walk(TEXT_ENV.parse(source), frozenset())
    return found


def _reads(spec: Personalization) -> set[str]:
    value, fallback = split_spec(spec)
    if fallback is not None:
        return set()
    try:
        return unguarded_reads(value)
    except TemplateSyntaxError:
        return set()  # reported, with its line, by the template check


def risks(config: Config, conn: psycopg.Connection[Row] | None) -> Iterator[Risk]:
    """Every personalization read that can be NULL or empty for some user, and why."""
    columns = _UsersColumns(config, conn)
    seen: set[tuple[str, str, str]] = set()
    for use in email_uses(config):
        supplied = SUPPLIED.get(type(use.step.condition), set())
        for key, spec in use.action.personalization.items():
            for column in sorted(_reads(spec) - supplied):
                found = columns.why_empty(column)
                if found and (use.loop.name, key, column) not in seen:
                    seen.add((use.loop.name, key, column))
                    yield Risk(use, key, column, *found)


class _UsersColumns:
    """Where each skene.users column comes from, and whether it can be NULL or empty."""

    def __init__(self, config: Config, conn: psycopg.Connection[Row] | None) -> None:
        self.conn = conn
        users = config.app.users
        self.table = users.table
        self.id = users.id
        # skene.users column -> the app column it is read from
        self.mapped = {"user_id": users.id, "email": users.email, "name": users.name,
                       "created_at": users.created_at}
        self._columns: dict[str, Row] | None = None

    def app_columns(self) -> dict[str, Row]:
        if self._columns is None:
            self._columns = {}
            if self.conn is not None:
                rows = self.conn.execute(sql.load("email/users_table_columns"),
                                         {"table": self.table}).fetchall()
                self._columns = {r["column_name"]: r for r in rows}
        return self._columns

    def why_empty(self, column: str) -> tuple[str, str | None] | None:
        """(why the column can be NULL or empty, a user for whom it is now), or None."""
        if column in NO_ACTIVITY:
            return f"skene.users.{column} is NULL for users with no activity yet", None
        source = self.mapped.get(column, column) if column in self.mapped else column
        if source is None:  # e.g. app.users.name not configured: NULL for everyone
            return f"app.users.{column} is not configured, so user.{column} is NULL", None
        info = self.app_columns().get(source)
        if info is None:
            return None  # not an app column (a condition's own column, or unknown: no verdict)
        where = f"{self.table}.{source}"
        example = self._empty_example(source)
        if example is not None:
            return f"{where} is empty or NULL for user {example} (and maybe others)", example
        if info["nullable"]:
            return f"{where} can be NULL", None
        return None

    def _empty_example(self, column: str) -> str | None:
        """A user whose value is NULL or empty now, among the first rows of the users table."""
        columns = self.app_columns()
        if self.conn is None or self.id not in columns:
            return None
        # regclass's own quoting of the resolved table (skene.yaml may name it `public."user"`)
        relation = str(columns[self.id]["relation"])
        stmt = pgsql.SQL(sql.load("email/empty_column")).format(
            id=pgsql.Identifier(self.id), column=pgsql.Identifier(column),
            table=pgsql.SQL(relation), sample=pgsql.Literal(SAMPLE))
        with self.conn.transaction():
            row = self.conn.execute(stmt).fetchone()
        return str(row["user_id"]) if row else None
