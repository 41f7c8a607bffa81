"""Connections to the app database, with errors a person can act on (and no password in them)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from skene_cdc.errors import SkeneError, first_line

Row = dict[str, Any]


def table_ident(table_name: str) -> pgsql.Identifier:
    """`schema.table` as psycopg's quoted identifier (names come from skene.yaml, validated there
    as one or two identifiers, or from the catalog)."""
    schema, _, table = table_name.partition(".")
    return pgsql.Identifier(schema, table)


def jsonable(value: Any) -> Any:
    """A database value as JSON holds it, for delivery contexts and `status --json`: timestamps
    and dates as ISO 8601, numerics as numbers, JSON as itself, anything else (uuid, interval,
    bytea) as its text. One rule, so a template sees a column the same way from every loop type."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "as_integer_ratio"):  # Decimal
        return float(value)
    return str(value)

# What this process calls itself in pg_stat_activity. `listen` names its sessions after the
# listener (listener/control.py), so `status` and `uninstall` can tell which listeners are
# really connected.
_application_name = "skene-cdc"


def set_application_name(name: str) -> None:
    global _application_name
    _application_name = name[:63]  # NAMEDATALEN - 1


def redact(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


URL_HINT = ("Pass --database-url or set DATABASE_URL to a PostgreSQL URL such as "
            "postgresql://app@localhost:5432/app (or libpq's `host=... dbname=...` form)")


def require_url(url: str | None) -> str:
    if not url:
        raise SkeneError("no database given", hint=URL_HINT)
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    if scheme is not None and scheme not in ("postgresql", "postgres"):
        raise SkeneError(f"--database-url / DATABASE_URL {redact(url)!r} is a {scheme}:// address, "
                         "not a PostgreSQL URL", hint=URL_HINT)
    return url


def connect(url: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Row]:
    try:
        return psycopg.connect(url, autocommit=autocommit, row_factory=dict_row,
                               application_name=kwargs.pop("application_name",
                                                           _application_name),
                               **kwargs)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SkeneError(f"cannot connect to {redact(url)}: {reason}",
                         hint="Check that PostgreSQL is running and DATABASE_URL is right") from None
    except psycopg.ProgrammingError as exc:  # libpq could not parse the connection string
        reason = first_line(exc)
        raise SkeneError(f"--database-url / DATABASE_URL {redact(url)!r} is not a connection "
                         f"string PostgreSQL understands ({reason})", hint=URL_HINT) from None


def sqlalchemy_url(url: str) -> str:
    """Alembic goes through SQLAlchemy; make it use psycopg 3, like the rest of skene."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def schema_installed(conn: psycopg.Connection[Row]) -> bool:
    row = conn.execute("SELECT to_regclass('skene.events') IS NOT NULL AS ok").fetchone()
    return bool(row and row["ok"])


def require_schema(conn: psycopg.Connection[Row]) -> None:
    if not schema_installed(conn):
        raise SkeneError("skene is not installed in this database",
                         hint="Run `skene-cdc migrate` first")
