"""SQL safety for `query` conditions: exactly one read-only SELECT, checked with PostgreSQL's own
parser (pglast) before anything runs.

The real fence is at run time: the condition runs read-only, under statement_timeout, as the
reader role (roles.reader) inside its security-definer function skene.condition_rows, so whatever
it calls has the reader's rights and no more (docs/security.md). This check exists so that a
mistake, or a call that could only fail there, is refused at load and by `skene-cdc check` with
the reason, instead of being discovered by a listener at 9 AM."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError, scan
from pglast.visitors import Visitor

# Functions that sleep, reach outside the database, signal backends, touch files or large
# objects, take locks, change settings or write sequences. A read-only transaction stops some of
# them, not all (pg_sleep, dblink, pg_terminate_backend, pg_read_file would still run).
_DENY_EXACT = {
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "set_config", "pg_notify",
    "nextval", "setval", "loread", "lowrite", "pg_stat_file", "pg_export_snapshot",
    "pg_import_system_collations", "pg_log_backend_memory_contexts",
    "pg_start_backup", "pg_stop_backup",
}
_DENY_PREFIX = (
    "pg_sleep", "dblink", "lo_", "pg_read_", "pg_ls_", "pg_file_", "pg_advisory",
    "pg_try_advisory", "pg_logical_", "pg_replication_", "pg_create_", "pg_drop_", "pg_copy_",
    "pg_backup_", "pg_stat_reset", "pg_wal_replay_",
)
# Functions that run SQL given as a string (or read a table, schema or database given by name):
# what they run is invisible to this parser, so neither its tables nor its calls could be checked.
# Found by searching pg_catalog (PostgreSQL 15) and the contrib modules a database is likely to
# have: tsearch's ts_stat/ts_rewrite, the SQL/XML mapping functions, dblink, tablefunc.
_STRING_EXEC_EXACT = {"ts_stat", "ts_rewrite", "crosstab", "connectby", "pgrowlocks"}
_STRING_EXEC_PREFIX = (
    "query_to_xml", "cursor_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml",
    "crosstab", "pg_background",
)

_STATEMENT = re.compile(r"^[A-Za-z]+(\s+(TABLE|VIEW|INDEX|FUNCTION|SCHEMA|ROLE|USER|DATABASE|"
                        r"TRIGGER|SEQUENCE|EXTENSION|MATERIALIZED\s+VIEW)\b)?", re.I)


class UnsafeQuery(ValueError):
    """Why a condition query is refused, and where in it (1-based line of the query)."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class QueryInfo:
    """What the engine needs to know about a checked query."""

    text: str  # the query, trailing `;` and blanks removed
    tables: frozenset[tuple[str | None, str]] = field(default_factory=frozenset)
    max_param: int = 0  # highest $N used (only $1 is allowed)

    @property
    def reads_skene(self) -> bool:
        """Reads skene's own tables/views, which every activity event changes."""
        return any(schema == "skene" for schema, _ in self.tables)

    def touched_by(self, table_name: str) -> bool:
        """Does a change to `schema.table` (as skene.events stores it) affect this query?"""
        schema, _, name = table_name.rpartition(".")
        return (schema, name) in self.tables or (None, name) in self.tables


def _line(text: str, pos: int | None) -> int | None:
    return text.count("\n", 0, max(pos, 0)) + 1 if pos is not None else None


def _statement_name(text: str) -> str:
    m = _STATEMENT.match(text.strip())
    return re.sub(r"\s+", " ", m.group(0)).upper() if m else "a statement"


class _Inspector(Visitor):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.tables: set[tuple[str | None, str]] = set()
        self.ctes: set[str] = set()
        self.problems: list[UnsafeQuery] = []

    def _refuse(self, reason: str, location: Any) -> None:
        pos = location if isinstance(location, int) and location >= 0 else None
        self.problems.append(UnsafeQuery(reason, _line(self.text, pos)))

    def visit_SelectStmt(self, _ancestors: Any, node: ast.SelectStmt) -> None:
        if node.intoClause is not None:
            self._refuse("SELECT INTO creates a table; a condition may only read", None)
        if node.lockingClause:
            self._refuse("FOR UPDATE/SHARE takes row locks; a condition may only read", None)

    def visit_CommonTableExpr(self, _ancestors: Any, node: ast.CommonTableExpr) -> None:
        self.ctes.add((node.ctename or "").lower())
        if not isinstance(node.ctequery, ast.SelectStmt):
            kind = type(node.ctequery).__name__.removesuffix("Stmt").upper()
            self._refuse(f"the WITH query {node.ctename!r} is a data-modifying {kind}",
                         node.location)

    def visit_RangeVar(self, _ancestors: Any, node: ast.RangeVar) -> None:
        schema = node.schemaname.lower() if node.schemaname else None
        self.tables.add((schema, (node.relname or "").lower()))

    def visit_FuncCall(self, _ancestors: Any, node: ast.FuncCall) -> None:
        name = str(getattr((node.funcname or (None,))[-1], "sval", "") or "").lower()
        if name in _STRING_EXEC_EXACT or name.startswith(_STRING_EXEC_PREFIX):
            self._refuse(f"calls {name}(), which runs SQL given as a string (or reads a table "
                         "by name), so what it runs cannot be checked", node.location)
        elif name in _DENY_EXACT or name.startswith(_DENY_PREFIX):
            self._refuse(f"calls {name}(), which a condition may not use (it sleeps, reaches "
                         "outside the database, signals or locks, or writes)", node.location)


def inspect_query(query: str) -> QueryInfo:
    """Check a condition query; return what it reads, or raise UnsafeQuery with the reason."""
    text = query.strip().rstrip(";").rstrip()
    if not text:
        raise UnsafeQuery("the query is empty")
    try:
        stmts = parse_sql(text)
    except ParseError as exc:
        pos = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        raise UnsafeQuery(f"it is not valid SQL: {exc.args[0]}", _line(text, pos)) from None
    if len(stmts) != 1:
        second = stmts[1].stmt_location if len(stmts) > 1 else None
        raise UnsafeQuery(f"it holds {len(stmts)} statements joined by ';'; a condition is "
                          "exactly one SELECT", _line(text, second))
    stmt = stmts[0].stmt
    if not isinstance(stmt, ast.SelectStmt):
        raise UnsafeQuery(f"it is {_statement_name(text)}, not a SELECT; a condition may only "
                          "read", 1)
    inspector = _Inspector(text)
    inspector(stmt)
    if inspector.problems:
        raise inspector.problems[0]
    max_param = 0
    for token in scan(text):
        if token.name == "PARAM":
            n = int(text[token.start + 1:token.end + 1])
            if n != 1:
                raise UnsafeQuery(f"it uses ${n}; only $1 (the triggering user's id) exists",
                                  _line(text, token.start))
            max_param = 1
    tables = frozenset(t for t in inspector.tables if not (t[0] is None and t[1] in inspector.ctes))
    return QueryInfo(text=text, tables=tables, max_param=max_param)


def bind_user(info: QueryInfo, literal: str) -> str:
    """The query with every `$1` token replaced by `literal` (an already-quoted SQL literal).

    An untyped literal lets PostgreSQL infer $1's type from context (`user_id = '42'` works for
    bigint, uuid and text ids alike), and leaves no `%` placeholders for the driver to parse."""
    if not info.max_param:
        return info.text
    out: list[str] = []
    pos = 0
    for token in scan(info.text):
        if token.name == "PARAM":
            out.append(info.text[pos:token.start])
            out.append(literal)
            pos = token.end + 1
    out.append(info.text[pos:])
    return "".join(out)
