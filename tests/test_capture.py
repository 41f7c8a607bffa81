"""Trigger capture: what lands in skene.events for each kind of write."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, consume, write_config


def events(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return conn.execute("SELECT table_name, op, user_id, event, occurred_at, activity, source, "
                        "data FROM skene.events ORDER BY id").fetchall()


def test_insert_update_delete_are_captured(db_url: str) -> None:
    t_action = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (7, 'g@x.test', 'Gus')")
        conn.execute("INSERT INTO user_actions (id, user_id, action_type, created_at) "
                     "VALUES (1, 7, 'first_project_created', %s)", (t_action,))
        conn.execute("UPDATE user_actions SET action_type = 'renamed' WHERE id = 1")
        conn.execute("DELETE FROM user_actions WHERE id = 1")
        conn.commit()
        consume(db_url)
        rows = events(conn)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("public.users", "insert", "7", "users.insert"),
        ("public.user_actions", "insert", "7", "first_project_created"),
        ("public.user_actions", "update", "7", "renamed"),
        ("public.user_actions", "delete", "7", "renamed"),
    ]
    # Event time comes from the row's timestamp column, not the capture time.
    assert rows[1][4] == t_action
    # Signups and deletions are captured but are not user activity.
    assert [r[5] for r in rows] == [False, True, True, False]
    assert all(r[6] == "trigger" for r in rows)
    assert rows[1][7]["action_type"] == "first_project_created"


def test_multi_row_statements_and_copy_are_captured(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 50) g")
        with conn.cursor().copy("COPY user_actions (user_id, action_type) FROM STDIN") as copy:
            buf = io.StringIO()
            for i in range(1, 51):
                buf.write(f"{i}\tcopied\n")
            copy.write(buf.getvalue())
        conn.execute("UPDATE user_actions SET action_type = 'bulk' WHERE user_id <= 10")
        conn.commit()
        consume(db_url)
        counts = conn.execute("SELECT table_name, op, count(*) FROM skene.events "
                              "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        users = conn.execute("SELECT count(DISTINCT user_id) FROM skene.events WHERE "
                             "table_name = 'public.user_actions'").fetchone()
    assert counts == [("public.user_actions", "insert", 50), ("public.user_actions", "update", 10),
                      ("public.users", "insert", 50)]
    assert users == (50,)


def test_truncate_is_captured(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('t@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'x')")
        conn.execute("TRUNCATE user_actions")
        conn.commit()
        consume(db_url)
        last = conn.execute("SELECT table_name, op, user_id FROM skene.events "
                            "ORDER BY id DESC LIMIT 1").fetchone()
    assert last == ("public.user_actions", "truncate", None)


def test_rolled_back_writes_leave_no_events(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('r@x.test')")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM skene.queue").fetchone() == (0,)
    assert consume(db_url) == 0


def test_app_role_without_skene_privileges_can_still_write(db_url: str) -> None:
    """The capture function is SECURITY DEFINER (owned by the capture role): the app role needs
    no grant on schema skene, and cannot read what skene captured."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE app_rw LOGIN")
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO app_rw")
        conn.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app_rw")
    with psycopg.connect(db_url.replace("postgres@", "app_rw@")) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('app@x.test')")
        conn.commit()
        try:
            conn.execute("SELECT * FROM skene.queue_0")
            raise AssertionError("app role should not read skene's queue")
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
    consume(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM skene.events").fetchone() == (1,)


def test_partitioned_tables_are_captured_per_row_whichever_table_a_write_names(
        app_url: str, tmp_path: Path) -> None:
    """Statement triggers fire only for the table a statement names; a partitioned activity table
    gets row triggers (cloned onto its partitions), so writes to the root and to a partition
    directly are both captured, once."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE clicks (id bigint, user_id bigint, at timestamptz NOT NULL) "
                     "PARTITION BY RANGE (at)")
        conn.execute("CREATE TABLE clicks_now PARTITION OF clicks FOR VALUES FROM "
                     "('2000-01-01') TO ('2100-01-01')")
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
    config = write_config(tmp_path, DEFAULT_CONFIG.replace("capture:\n", (
        "    - table: public.clicks\n      user_id: user_id\n      timestamp: at\n"
        "capture:\n"), 1))
    runner.migrate(app_url, config)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO clicks VALUES (1, 1, now()), (2, 1, now())")
        conn.execute("INSERT INTO clicks_now VALUES (3, 1, now())")
        conn.execute("DELETE FROM clicks_now WHERE id = 3")
    consume(app_url, config)
    with psycopg.connect(app_url) as conn:
        got = conn.execute("SELECT op, (data->>'id')::int FROM skene.events "
                           "WHERE table_name = 'public.clicks' ORDER BY id").fetchall()
    assert got == [("insert", 1), ("insert", 2), ("insert", 3), ("delete", 3)]


def test_statement_capture_keeps_columns_and_settings_for_many_rows(db_url: str,
                                                                     tmp_path: Path) -> None:
    """A multi-row insert and delete go through one queue INSERT each; with an exclude list and a
    writer in another time zone, every row still leaves only its kept columns, as UTC."""
    config = write_config(tmp_path, DEFAULT_CONFIG.replace(
        "    - table: public.user_actions\n",
        "    - table: public.user_actions\n      exclude: [id]\n"))
    runner.migrate(db_url, config)
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) "
                     "SELECT 1, 'click', %s FROM generate_series(1, 50)", (at,))
        conn.execute("DELETE FROM user_actions WHERE id <= 10")
    consume(db_url, config)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT op, data FROM skene.events "
                            "WHERE table_name = 'public.user_actions'").fetchall()
    assert [r[0] for r in rows].count("insert") == 50 and [r[0] for r in rows].count("delete") == 10
    assert all("id" not in r[1] for r in rows)
    assert {r[1]["created_at"] for r in rows} == {at.isoformat()}
