"""Helpers for the init/check/backfill/examples tests: empty databases with a given schema, and a
snapshot of everything a command could change (to prove that it changed nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import clone, drop
from tests.pgcluster import PgCluster

SCHEMAS = Path(__file__).parent / "schemas"


@contextmanager
def empty_db(pg: PgCluster, schema: str | None = None) -> Iterator[str]:
    """A fresh database (from template0), optionally loaded with tests/schemas/<schema>.sql."""
    name = clone(pg, "template0")
    url = pg.url(name)
    try:
        if schema:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute((SCHEMAS / f"{schema}.sql").read_text())
        yield url
    finally:
        drop(pg, name)


def url_as(url: str, user: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://{user}@", 1)


_CATALOG = [
    "SELECT n.nspname, c.relname, c.relkind::text, pg_get_userbyid(c.relowner), "
    "coalesce(c.relacl::text, '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1, 2",
    "SELECT tgrelid::regclass::text, tgname, tgenabled::text FROM pg_trigger "
    "WHERE NOT tgisinternal ORDER BY 1, 2",
    "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace ORDER BY 1",
    "SELECT n.nspname, p.proname, md5(p.prosrc) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1, 2",
    "SELECT objoid::regclass::text, description FROM pg_description d "
    "JOIN pg_class c ON c.oid = d.objoid ORDER BY 1, 2",
    "SELECT datname, coalesce(datacl::text, '') FROM pg_database ORDER BY 1",
    "SELECT pubname FROM pg_publication ORDER BY 1",
    "SELECT slot_name FROM pg_replication_slots ORDER BY 1",
]


def catalog_snapshot(url: str) -> dict[str, object]:
    """Schema objects, privileges, comments, publications, slots, and a hash of every table's
    rows: equal before and after means the command under test wrote nothing."""
    snap: dict[str, object] = {}
    with psycopg.connect(url) as conn:
        for i, q in enumerate(_CATALOG):
            snap[f"catalog{i}"] = conn.execute(q).fetchall()
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' "
            "AND n.nspname <> 'information_schema' ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            q = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), "
                        "'')) FROM {} t").format(sql.Identifier(str(schema), str(table)))
            snap[f"{schema}.{table}"] = conn.execute(q).fetchone()
    return snap


def invoke(*args: str, url: str, config_path: Path | str) -> str:
    """Run `skene-cdc ARGS` in-process (click's runner): the same code path as the console script
    without a Python start-up per call. Subprocess runs are covered by other tests."""
    from click.testing import CliRunner

    from skene_cdc.cli.main import cli

    result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url,
                                                      "SKENE_CONFIG": str(config_path)},
                                catch_exceptions=False)
    assert result.exit_code == 0, f"skene-cdc {' '.join(args)} exited {result.exit_code}:\n" \
                                  f"{result.output}"
    return result.output
