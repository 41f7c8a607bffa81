"""skene.users_by_id: lookups by user id served by the app's own primary key, with exactly the
rows the view itself gives for `user_id = ANY(...)`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, write_config

IDS = ["7", "007", "70", "abc", "999", "-1", "99999999999999999999"]


def lookup(conn: psycopg.Connection[tuple[object, ...]], ids: list[str]) -> tuple[object, ...]:
    by_id = conn.execute("SELECT user_id, email FROM skene.users_by_id(%s) ORDER BY 1",
                         (ids,)).fetchall()
    view = conn.execute("SELECT user_id, email FROM skene.users WHERE user_id = ANY(%s) "
                        "ORDER BY 1", (ids,)).fetchall()
    assert by_id == view
    return tuple(r[0] for r in by_id)


def uses_index(conn: psycopg.Connection[tuple[object, ...]], index: str,
               query: str = "SELECT * FROM skene.users_by_id(ARRAY['7', '8'])") -> bool:
    """Whether the plan can use `index` at all: sequential scans off, so any usable index wins."""
    conn.execute("SET enable_seqscan = off")
    plan = "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN {query}"))
    conn.execute("RESET enable_seqscan")
    return index in plan


def test_integer_ids(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (7, 'a@x.test'), (70, 'b@x.test'), "
                     "(8, 'c@x.test')")
        assert lookup(conn, IDS) == ("7", "70")
        assert lookup(conn, []) == ()
        assert uses_index(conn, "users_pkey")
        # The plain view cannot: its user_id is id::text.
        assert not uses_index(conn, "users_pkey",
                              "SELECT * FROM skene.users WHERE user_id = ANY(ARRAY['7'])")


@pytest.mark.parametrize("id_type, default", [
    ("uuid", "gen_random_uuid()"), ("text", "md5(random()::text)"),
    ("varchar(40)", "md5(random()::text)"), ("numeric", "floor(random() * 1e9)")])
def test_other_id_types(app_url: str, tmp_path: Path, id_type: str, default: str) -> None:
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE accounts (id {id_type} PRIMARY KEY DEFAULT {default}, "
                     "email text NOT NULL)")
        conn.execute("INSERT INTO accounts (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 50) g")
    runner.migrate(app_url, write_config(tmp_path, """\
version: 1
app:
  users: {table: accounts, id: id, email: email}
  activity: []
"""))
    with psycopg.connect(app_url) as conn:
        some = [str(r[0]) for r in conn.execute("SELECT id FROM accounts ORDER BY email LIMIT 3")]
        # An upper-cased uuid is the same uuid, but not the same user_id text: no match, as in
        # the view.
        assert sorted(lookup(conn, [*some, "abc", "", some[0].upper()])) == sorted(some)
        if id_type != "numeric":  # no index-friendly cast for every type; text match still works
            assert uses_index(conn, "accounts_pkey")


def test_migrate_restores_a_dropped_lookup_function(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, DEFAULT_CONFIG)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION skene.users_by_id(text[])")
    runner.migrate(db_url, config)
    with psycopg.connect(db_url) as conn:
        assert lookup(conn, ["1"]) == ()


def test_function_body_quoting_cannot_end_early() -> None:
    from skene_cdc.migrations.users_view import _dollar_quoted

    quoted = _dollar_quoted('SELECT 1 AS "a$body$b"\n').as_string(None)
    assert quoted.startswith("$body_$\n") and quoted.endswith("$body_$")
