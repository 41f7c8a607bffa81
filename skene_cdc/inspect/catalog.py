"""What `init` learns from the database catalog: tables, columns, primary and foreign keys.

Read in one read-only transaction; nothing is written."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(): "timestamp with time zone", "character varying(254)", ...
    category: str  # pg_type.typcategory: S string, N numeric, D date/time, U uuid/user, E enum
    not_null: bool
    primary_key: bool

    @property
    def is_time(self) -> bool:
        return self.type.startswith(("timestamp", "date"))

    @property
    def is_text(self) -> bool:
        return self.category in ("S", "E")


@dataclass(frozen=True)
class ForeignKey:
    column: str
    ref_table: str  # "schema.table"
    ref_column: str


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    estimated_rows: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.primary_key]


@dataclass
class Catalog:
    tables: dict[str, Table]  # by "schema.table"
    database: str
    user: str
    wal_level: str

    def incoming(self, table: Table) -> list[tuple[Table, ForeignKey]]:
        return [(t, fk) for t in self.tables.values() for fk in t.foreign_keys
                if fk.ref_table == table.qualified]


def read_catalog(conn: psycopg.Connection[Row], schemas: list[str] | None = None) -> Catalog:
    tables: dict[str, Table] = {}
    for r in conn.execute(sql.load("inspect/columns"), {"schemas": schemas}):
        key = f"{r['schema']}.{r['table']}"
        table = tables.setdefault(key, Table(r["schema"], r["table"],
                                             estimated_rows=r["estimated_rows"]))
        table.columns[r["column"]] = Column(r["column"], r["type"], r["category"], r["not_null"],
                                            r["primary_key"])
    for r in conn.execute(sql.load("inspect/foreign_keys")):
        key = f"{r['schema']}.{r['table']}"
        if key in tables:
            tables[key].foreign_keys.append(ForeignKey(
                r["column"], f"{r['ref_schema']}.{r['ref_table']}", r["ref_column"]))
    facts = conn.execute(sql.load("inspect/database")).fetchone() or {}
    return Catalog(tables, facts.get("database", ""), facts.get("user", ""),
                   facts.get("wal_level", ""))
