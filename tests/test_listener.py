"""The listener: commit-safe order, checkpoints, crash recovery, wake-ups, reconnects."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from skene_cdc.handlers import build_handlers
from skene_cdc.listener.consumer import EventConsumer
from tests.conftest import (
    DEFAULT_CONFIG,
    cli_env,
    clone,
    drop,
    run_cli,
    scalar,
    wait_for,
    write_config,
)
from tests.pgcluster import PgCluster

Conn = psycopg.Connection[tuple[object, ...]]


def start_listener(url: str, cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], text=True,
                            env=cli_env(url, cfg), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def consumer(url: str, config: object, batch_size: int = 1000) -> EventConsumer:
    return EventConsumer(url, build_handlers(config), batch_size=batch_size)  # type: ignore[arg-type]


def test_once_drains_and_rolls_up_activity(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (1, 'a@x.test', 'Ann'), "
                     "(2, 'b@x.test', 'Bob')")
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) VALUES "
                     "(1, 'login', now() - interval '10 days'), "
                     "(1, 'export', now() - interval '9 days'), "
                     "(2, 'login', now() - interval '1 day'), (2, 'login', now())")
    out = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml")
    assert "events: 6" in out.stdout
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT user_id, name, last_event, activity_this_week, "
                            "activity_last_week, plan, last_activity_at < now() - interval "
                            "'7 days' AS dormant FROM skene.users ORDER BY user_id").fetchall()
    assert rows == [("1", "Ann", "export", 0, 2, "free", True),
                    ("2", "Bob", "login", 2, 0, "free", False)]
    # The seeds' retention query, written against skene.users, runs.
    dormant = scalar(db_url, "SELECT count(*) FROM skene.users "
                             "WHERE last_activity_at < NOW() - INTERVAL '7 days'")
    assert dormant == 1


def test_late_committer_is_not_skipped(db_url: str, config: object) -> None:
    """Transaction A writes first, B writes and commits, the listener runs, then A commits. A
    reader keeping 'last id seen' would skip A's event forever; one reading below the oldest
    running transaction would hold B back until A ends. Reading by snapshots does neither."""
    with psycopg.connect(db_url) as setup:
        setup.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test'), (2, 'b@x.test')")
    c = consumer(db_url, config)
    c.drain()
    a, b = psycopg.connect(db_url), psycopg.connect(db_url)
    try:
        a.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'late')")
        b.execute("INSERT INTO user_actions (user_id, action_type) VALUES (2, 'early')")
        b.commit()
        c.drain()  # B's event is handled although A, which wrote before it, is still open
        assert scalar(db_url, "SELECT string_agg(user_id || ':' || event, ',') "
                              "FROM skene.activity_daily") == "2:early"
        a.commit()
        c.drain()
    finally:
        a.close()
        b.close()
    assert scalar(db_url, "SELECT processed FROM skene.cursors WHERE name = 'main'") == 4
    assert scalar(db_url, "SELECT string_agg(user_id || ':' || event || ':' || n, ',' "
                          "ORDER BY user_id) FROM skene.activity_daily") == "1:late:1,2:early:1"


def test_batch_is_atomic_with_its_effects(db_url: str, config: object) -> None:
    """A handler failure rolls back the whole batch, cursor included; the retry applies it once."""
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT 1, 'x' FROM generate_series(1, 10)")

    class Boom:
        name = "boom"
        calls = 0

        def handle(self, conn: object, events: object) -> None:
            Boom.calls += 1
            if Boom.calls == 1:
                raise psycopg.errors.RaiseException("handler failed")

    c = EventConsumer(db_url, [*build_handlers(config), Boom()])  # type: ignore[arg-type]
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        c._prepare(conn)  # noqa: SLF001
        with pytest.raises(psycopg.Error):
            c.process_batch(conn)
        assert scalar(db_url, "SELECT processed FROM skene.cursors") == 0
        assert scalar(db_url, "SELECT count(*) FROM skene.events") == 0
        assert scalar(db_url, "SELECT count(*) FROM skene.activity_daily") == 0
        assert c.process_batch(conn) == 11
    assert scalar(db_url, "SELECT sum(n) FROM skene.activity_daily") == 10
    assert scalar(db_url, "SELECT last_error FROM skene.cursors") is None


@pytest.mark.slow
def test_kill_9_mid_burst_loses_nothing_and_counts_nothing_twice(db_url: str, tmp_path: Path
                                                                  ) -> None:
    write_config(tmp_path, DEFAULT_CONFIG.replace("poll_interval: 1s",
                                                  "poll_interval: 1s\n  batch_size: 50"))
    cfg = tmp_path / "skene.yaml"
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 100) g")
    proc = start_listener(db_url, cfg)
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for _ in range(100):  # 10,000 activity rows in 100 transactions
                conn.execute("INSERT INTO user_actions (user_id, action_type) "
                             "SELECT 1 + g % 100, 'burst' FROM generate_series(1, 100) g")
        wait_for(lambda: int(scalar(db_url, "SELECT coalesce(max(processed), 0) FROM "
                                            "skene.cursors") or 0) >= 2000, what="progress")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        at_kill = int(scalar(db_url, "SELECT processed FROM skene.cursors") or 0)
        assert at_kill < 10_100, "the kill landed after the burst was done; test proves nothing"
    finally:
        if proc.poll() is None:
            proc.kill()
    with psycopg.connect(db_url, autocommit=True) as conn:  # more arrive while it is down
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'after')")
    run_cli("listen", "--once", url=db_url, config_path=cfg)
    assert scalar(db_url, "SELECT processed FROM skene.cursors") == 100 + 10_000 + 1
    assert scalar(db_url, "SELECT sum(n) FROM skene.activity_daily WHERE event = 'burst'") == 10_000
    assert scalar(db_url, "SELECT count(*) FROM skene.user_activity") == 100
    assert scalar(db_url, "SELECT last_event FROM skene.user_activity WHERE user_id = '1'"
                  ) == "after"


def test_sigterm_stops_cleanly(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = start_listener(db_url, tmp_path / "skene.yaml")
    wait_for(lambda: scalar(db_url, "SELECT count(*) FROM skene.listeners") == 1,
             what="listener registered")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert scalar(db_url, "SELECT count(*) FROM skene.listeners") == 0


def test_idle_listener_is_woken_by_notify_not_by_polling(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG.replace("poll_interval: 1s", "poll_interval: 120s"))
    proc = start_listener(db_url, tmp_path / "skene.yaml")
    try:
        wait_for(lambda: scalar(db_url, "SELECT bool_or(sleeping_until > now()) FROM "
                                        "skene.listeners") is True, what="listener asleep")
        with psycopg.connect(db_url) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('w@x.test')")
        # With a 120 s poll interval, only the NOTIFY can get this processed in time.
        wait_for(lambda: scalar(db_url, "SELECT processed FROM skene.cursors") == 1, timeout=20,
                 what="NOTIFY wake-up")
        # While nobody sleeps, triggers do not NOTIFY: the flag is down after waking, and rows
        # written while the listener is busy (each under BUSY_WINDOW after the last) send none.
        wait_for(lambda: scalar(db_url, "SELECT last_value FROM skene.wake") == 0,
                 what="the wake flag down")
        with psycopg.connect(db_url, autocommit=True) as watch:
            watch.execute("LISTEN skene_events")
            for i in range(5):
                with psycopg.connect(db_url) as conn:
                    conn.execute("INSERT INTO users (email) VALUES (%s)", (f"busy{i}@x.test",))
                wait_for(lambda i=i: scalar(db_url, "SELECT processed FROM skene.cursors") == 2 + i,
                         timeout=5, what="busy processing")
            assert list(watch.notifies(timeout=0.3)) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_no_notify_while_listener_is_awake(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listen_conn:
        listen_conn.execute("LISTEN skene_events")
        with psycopg.connect(db_url) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('quiet@x.test')")
            conn.commit()
            # What a listener going to sleep does (consumer._heartbeat): the wake sequence
            # holds the epoch second it sleeps until.
            conn.execute("SELECT setval('skene.wake', extract(epoch FROM now())::bigint + 60)")
            conn.commit()
            conn.execute("INSERT INTO users (email) VALUES ('loud@x.test')")
            conn.commit()
        got = list(listen_conn.notifies(timeout=1))
    assert len(got) == 1


def test_lost_connection_is_retried(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = start_listener(db_url, tmp_path / "skene.yaml")
    try:
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM skene.listeners") == 1,
                 what="listener registered")
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name LIKE 'skene-cdc listen %' "
                         "AND pid <> pg_backend_pid()")
            conn.execute("INSERT INTO users (email) VALUES ('after-cut@x.test')")
        wait_for(lambda: scalar(db_url, "SELECT processed FROM skene.cursors") == 1,
                 what="processing after reconnect")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    lost = [line for line in err.splitlines() if "connection lost" in line]
    assert lost and all("retrying in" in line for line in lost), err
    assert db_url not in err  # the listener never logs its URL (it may hold a password)


def test_a_transaction_held_open_delays_only_itself(pg: PgCluster, db_url: str,
                                                    config: object) -> None:
    """An idle-in-transaction writer, here and in another database of the cluster, must not hold
    anybody else's events back (xids are cluster-wide: a reader below the oldest running
    transaction stalls on both); the held change is handled exactly once when it commits, also
    while the queue's tables go round and are emptied meanwhile."""
    # 8 transaction ids per queue table instead of 4,096, so a few dozen commits go round.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION skene.queue_range(txid xid8) RETURNS bigint "
                     "LANGUAGE sql IMMUTABLE AS 'SELECT txid::text::bigint >> 3'")
    other = clone(pg, "app_template")
    elsewhere = psycopg.connect(pg.url(other))
    here = psycopg.connect(db_url)
    c = consumer(db_url, config)
    c.drain_queue.every = 0  # look for a drained table after every batch
    truncated = 0
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (id, email) SELECT g, 'u' || g || '@x.test' "
                         "FROM generate_series(1, 3) g")
        elsewhere.execute("INSERT INTO users (email) VALUES ('other@db.test')")  # left open
        here.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'held')")
        held_table = scalar(db_url, "SELECT 'skene.queue_' || skene.queue_part(%s::xid8)",
                            (str(here.execute("SELECT pg_current_xact_id()").fetchone()[0]),))
        with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
            c._prepare(conn)  # noqa: SLF001
            for round_ in range(6):
                with psycopg.connect(db_url, autocommit=True) as w:
                    for _ in range(5):  # five transactions, so ids reach the next table
                        w.execute("INSERT INTO user_actions (user_id, action_type) VALUES "
                                  "(2, %s)", (f"r{round_}",))
                while c.step(conn):
                    pass
                before = scalar(db_url, f"SELECT pg_relation_size('{held_table}')")
                c.maintain(conn)
                truncated += int(scalar(db_url, EMPTIED, (held_table,)) or 0)
                assert before == scalar(db_url, f"SELECT pg_relation_size('{held_table}')"), \
                    "the held transaction's table was emptied under it"
                assert scalar(db_url, "SELECT sum(n) FROM skene.activity_daily "
                                      "WHERE user_id = '2'") == 5 * (round_ + 1), \
                    "a transaction held open elsewhere stalled the consumer"
            assert scalar(db_url, "SELECT count(*) FROM skene.activity_daily "
                                  "WHERE user_id = '1'") == 0  # the held one waits for itself
            here.commit()
            elsewhere.commit()
            for _ in range(15):  # ids go round again, a few at a time: its table's turn comes
                while c.step(conn):
                    pass
                with psycopg.connect(db_url, autocommit=True) as w:
                    for _ in range(2):
                        w.execute("SELECT pg_current_xact_id()")
                c.maintain(conn)
    finally:
        here.close()
        elsewhere.close()
        drop(pg, other)
    assert scalar(db_url, "SELECT string_agg(event || ':' || n, ',' ORDER BY event) FROM "
                          "skene.activity_daily WHERE user_id = '1'") == "held:1"
    assert scalar(db_url, "SELECT processed FROM skene.cursors") == 3 + 1 + 30
    assert scalar(db_url, "SELECT count(*) FROM skene.queue_pending") == 0
    assert scalar(db_url, f"SELECT pg_relation_size('{held_table}')") == 0, \
        "drained, then truncated"
    assert truncated > 0, "no other table was emptied while the transaction was held"


# Queue tables other than the held transaction's that are empty on disk (truncated).
EMPTIED = """SELECT count(*) FROM pg_class WHERE relnamespace = 'skene'::regnamespace
             AND relname IN ('queue_0', 'queue_1', 'queue_2') AND pg_relation_size(oid) = 0
             AND 'skene.' || relname <> %s"""
