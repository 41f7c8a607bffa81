"""Connections to the app database, with errors a person can act on (and no password in them)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skene_cdc.errors import SkeneError

Row = dict[str, Any]

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


def require_url(url: str | None) -> str:
    if not url:
        raise SkeneError("no database given",
                         hint="Pass --database-url or set DATABASE_URL "
                              "(e.g. postgresql://app@localhost/app)")
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
