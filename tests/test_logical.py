"""Logical replication capture: same events as trigger mode, TOAST, streaming, migrate's
publication/slot/identity management, refusals, status, the slot-lag guard, uninstall."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.checks import CheckContext
from skene_cdc.errors import PrerequisiteError, SkeneError
from skene_cdc.listener.replication import LogicalCapture
from skene_cdc.migrations import runner
from skene_cdc.migrations.logical import check_logical
from tests.conftest import DEFAULT_CONFIG, clone, consume, drop, run_cli, scalar, start_listener, write_config
from tests.logical_util import dbname, logical_config, wait_for, write_logical
from tests.pgcluster import PgCluster

TYPED = """
CREATE TABLE typed_actions (
    id bigserial PRIMARY KEY, user_id bigint NOT NULL, kind text, happened_at timestamptz,
    amount numeric(10, 2), ratio float8, flag bool, meta jsonb, raw json, note text, ref uuid,
    day date, local_ts timestamp, code varchar(20), tiny smallint, big_note text);
"""
# The statements below use fixed 2026 dates: history keeps every day, whatever today is.
TYPED_ACTIVITY = """    - table: public.typed_actions
      user_id: user_id
      timestamp: happened_at
      event: kind
events: {retention: forever}
"""
BIG = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g)"

STATEMENTS = [
    "INSERT INTO users (id, email, name, created_at) VALUES (1, 'a@x.test', 'Ann', "
    "'2026-01-02 03:04:05.123456+00'), (2, 'b@x.test', 'Bob', '2026-01-03 00:00:00+00'), "
    "(3, 'c@x.test', NULL, '2026-01-04 00:00:00+00')",
    "INSERT INTO user_actions (user_id, action_type, created_at) VALUES "
    "(1, 'first_project_created', '2026-02-01 10:00:00+00'), (2, 'login', '2026-02-01 11:00:00+00')",
    f"""INSERT INTO typed_actions (user_id, kind, happened_at, amount, ratio, flag, meta, raw, note,
        ref, day, local_ts, code, tiny, big_note) VALUES
        (1, 'paid', '2026-03-01 12:00:00.5+02', 12.50, 0.1, true,
         '{{"nested": {{"k": [1, "two", null]}}, "uni": "\u00e9\u4e2d"}}',
         '{{"a":\n\t1, "b": "x\\\\y"}}', E'tab\\there\\nnew line \\\\ backslash "quote"',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-03-01', '2026-03-01 08:00:00', 'c1', 7,
         {BIG}),
        (2, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 'big', '2026-03-02 00:00:00+00', 99999999.99, '-Infinity', false, '[]', 'null', '',
         NULL, '2026-03-02', NULL, '', -32768, 'short')""",
    "UPDATE users SET name = 'Anne' WHERE id = 1",
    "UPDATE typed_actions SET flag = NOT flag WHERE user_id = 1",  # big_note: unchanged TOAST
    "UPDATE user_actions SET user_id = 3 WHERE action_type = 'login'",
    "DELETE FROM user_actions WHERE user_id = 1",
    "DELETE FROM typed_actions WHERE user_id = 2",
    "DELETE FROM users WHERE id = 2",
    "COPY",
    "TRUNCATE typed_actions",
]
MY_SLOTS = "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"
MY_SLOT_ACTIVE = ("SELECT bool_or(active) FROM pg_replication_slots "
                  "WHERE database = current_database()")
COLUMNS = "table_name, op, user_id, event, activity, data, occurred_at, old_data"


def run_statements(url: str) -> None:
    with psycopg.connect(url) as conn:
        for stmt in STATEMENTS:
            if stmt == "COPY":
                with conn.cursor().copy("COPY user_actions (user_id, action_type, created_at) "
                                        "FROM STDIN") as copy:
                    copy.write("3\tcopied\t2026-04-01 00:00:00+00\n"
                               "1\tcopied\t2026-04-02 00:00:00+00\n")
            else:
                conn.execute(stmt)
            conn.commit()


def events(url: str, order: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT {COLUMNS}, source FROM skene.events "  # noqa: S608
                            f"ORDER BY {order}").fetchall()


@pytest.fixture
def typed_template(pg: PgCluster, app_template: str) -> str:
    name = clone(pg, app_template)
    with psycopg.connect(pg.url(name), autocommit=True) as conn:
        conn.execute(TYPED)
    return name


@pytest.fixture
def two_dbs(pg: PgCluster, typed_template: str) -> Iterator[tuple[str, str]]:
    a, b = clone(pg, typed_template), clone(pg, typed_template)
    yield pg.url(a), pg.url(b)
    for name in (a, b, typed_template):
        drop(pg, name)


def test_same_events_as_trigger_mode(two_dbs: tuple[str, str], tmp_path: Path) -> None:
    trig_url, log_url = two_dbs
    (tmp_path / "t").mkdir()
    (tmp_path / "l").mkdir()
    trig_cfg = write_config(tmp_path / "t", DEFAULT_CONFIG.replace(
        "capture:\n", TYPED_ACTIVITY + "capture:\n", 1))
    log_cfg = write_logical(tmp_path / "l", dbname(log_url), activity=TYPED_ACTIVITY)
    runner.migrate(trig_url, trig_cfg)
    runner.migrate(log_url, log_cfg)
    # No trigger on logically captured tables.
    assert scalar(log_url, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'skene%'") == 0
    run_statements(trig_url)
    run_statements(log_url)
    assert LogicalCapture(log_url, log_cfg).drain() > 0
    consume(trig_url, trig_cfg)
    consume(log_url, log_cfg)
    want = events(trig_url, "id")
    got = events(log_url, "lsn, seq")
    assert len(want) == 17 and len(got) == len(want)
    assert {r[-1] for r in want} == {"trigger"} and {r[-1] for r in got} == {"logical"}
    for w, g in zip(want, got, strict=True):
        w_, g_ = list(w[:-1]), list(g[:-1])
        if w_[1] == "truncate" or (w_[0] == "public.typed_actions" and w_[5] and
                                   w_[5].get("happened_at") is None):  # type: ignore[union-attr]
            # Event time not in the row: trigger mode takes now(), logical the commit time.
            w_[6] = g_[6] = None
        assert g_ == w_
    toast_update = next(r for r in got if r[0] == "public.typed_actions" and r[1] == "update")
    assert len(toast_update[5]["big_note"]) == 9600  # type: ignore[index]


def test_unchanged_toast_is_marked_not_nulled(pg: PgCluster, typed_template: str,
                                              tmp_path: Path) -> None:
    """With replica_identity: minimal the old row is not sent, so the server does not give us an
    unchanged TOASTed value: the event says so instead of storing NULL."""
    url = pg.url(typed_template)
    try:
        cfg = write_logical(tmp_path, typed_template, "\n  replica_identity: minimal",
                            activity=TYPED_ACTIVITY)
        runner.migrate(url, cfg)
        # minimal: users' key is its user id, so no FULL there; typed_actions needs it for deletes
        idents = dict(psycopg.connect(url).execute(
            "SELECT relname, relreplident::text FROM pg_class WHERE relname IN "
            "('users', 'typed_actions') AND relnamespace = 'public'::regnamespace").fetchall())
        assert idents == {"users": "d", "typed_actions": "f"}
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (id, email, name) VALUES (1, 'a@x.test', "
                         f"{BIG.replace('300', '200')})")
            conn.execute("UPDATE users SET email = 'new@x.test' WHERE id = 1")
            conn.execute("DELETE FROM users WHERE id = 1")
        LogicalCapture(url, cfg).drain()
        consume(url, cfg)
        rows = psycopg.connect(url).execute(
            "SELECT op, data FROM skene.events ORDER BY lsn, seq").fetchall()
        assert [r[0] for r in rows] == ["insert", "update", "delete"]
        update = rows[1][1]
        assert update["email"] == "new@x.test" and "name" not in update
        assert update["_unchanged_toast"] == ["name"]
        # A delete under the default identity carries the key only, not made-up NULLs.
        assert rows[2][1] == {"id": 1}
    finally:
        drop(pg, typed_template)


def test_streamed_transactions_alter_table_and_new_tables(app_url: str, tmp_path: Path) -> None:
    """Protocol 2 streaming (forced by a tiny logical_decoding_work_mem): committed changes
    arrive once, aborted ones and rolled-back savepoints never; ALTER TABLE is followed."""
    cfg = write_logical(tmp_path, dbname(app_url))
    runner.migrate(app_url, cfg)
    cap = LogicalCapture(app_url, cfg, streaming=True,
                         extra_options="-c logical_decoding_work_mem=64kB")
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        with conn.transaction():
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "SELECT 1, 'kept' FROM generate_series(1, 4000)")
            with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
                conn.execute("INSERT INTO user_actions (user_id, action_type) "
                             "SELECT 1, 'savepoint' FROM generate_series(1, 3000)")
                conn.execute("SELECT 1 / 0")
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "SELECT 1, 'kept2' FROM generate_series(1, 10)")
        with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "SELECT 1, 'aborted' FROM generate_series(1, 4000)")
            conn.execute("SELECT 1 / 0")
        conn.execute("ALTER TABLE user_actions ADD COLUMN plan text DEFAULT 'pro'")
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'altered')")
    cap.drain()
    consume(app_url, cfg)
    counts = dict(psycopg.connect(app_url).execute(
        "SELECT event, count(*) FROM skene.events GROUP BY 1").fetchall())
    assert counts == {"users.insert": 1, "kept": 4000, "kept2": 10, "altered": 1}
    assert scalar(app_url, "SELECT data->>'plan' FROM skene.events WHERE event = 'altered'") == "pro"
    # Seqs follow the transaction's order; the savepoint's rows left no gap in the key.
    assert scalar(app_url, "SELECT max(seq) FROM skene.events WHERE event = 'kept2'") == 4010


def test_migrate_refuses_without_replication_privilege(pg: PgCluster, app_url: str,
                                                       tmp_path: Path) -> None:
    name = dbname(app_url)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS app_owner")
        conn.execute("CREATE ROLE app_owner LOGIN")
        conn.execute(f'GRANT CREATE ON DATABASE "{name}" TO app_owner')
        conn.execute("GRANT CREATE ON SCHEMA public TO app_owner")
        conn.execute("ALTER TABLE users OWNER TO app_owner")
        conn.execute("ALTER TABLE user_actions OWNER TO app_owner")
        conn.execute("ALTER TABLE alembic_version OWNER TO app_owner")
    write_logical(tmp_path, name)
    url = app_url.replace("postgres@", "app_owner@")
    proc = run_cli("migrate", url=url, config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode == 2, proc.stderr
    assert 'ALTER ROLE "app_owner" REPLICATION;' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert scalar(app_url, "SELECT to_regnamespace('skene') IS NULL") is True
    assert scalar(app_url, "SELECT count(*) FROM pg_publication") == 0


def test_wal_level_replica_refuses_and_changes_nothing(tmp_path: Path) -> None:
    cluster = PgCluster.start(extra={"wal_level": "replica", "max_wal_senders": "2"})
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        url = cluster.url("app")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((Path(__file__).parent / "app_schema.sql").read_text())
        cfg = write_logical(tmp_path, "app")
        before = scalar(url, "SELECT md5(string_agg(relname || relreplident::text, ',' ORDER BY relname))"
                             " FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        proc = run_cli("migrate", url=url, config_path=tmp_path / "skene.yaml", check=False)
        assert proc.returncode == 2
        assert "wal_level = logical" in proc.stderr
        assert "ALTER SYSTEM SET wal_level = logical;" in proc.stderr
        assert "pg_ctl restart -D" in proc.stderr and "systemctl restart postgresql" in proc.stderr
        assert "nothing was changed" in proc.stderr
        assert scalar(url, "SELECT to_regnamespace('skene') IS NULL") is True
        assert scalar(url, "SELECT count(*) FROM pg_publication") == 0
        assert scalar(url, MY_SLOTS) == 0
        assert scalar(url, "SELECT md5(string_agg(relname || relreplident::text, ',' ORDER BY relname))"
                           " FROM pg_class WHERE relnamespace = 'public'::regnamespace") == before
        # `skene-cdc check` reports the same, read-only.
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
            found = list(check_logical(CheckContext(cfg, url, conn)))
        assert any("wal_level" in p.message and "ALTER SYSTEM" in p.fix for p in found)
        with pytest.raises(PrerequisiteError):
            runner.migrate(url, cfg)
    finally:
        cluster.stop("immediate")


def test_migrate_follows_config_and_uninstall_cleans_up(pg: PgCluster, app_url: str,
                                                       tmp_path: Path) -> None:
    name = dbname(app_url)
    cfg = write_logical(tmp_path, name)
    printed = run_cli("migrate", "--sql", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    assert "CREATE PUBLICATION" in printed and "REPLICA IDENTITY FULL" in printed
    assert printed.index("after COMMIT") < printed.index("pg_create_logical_replication_slot")
    assert scalar(app_url, MY_SLOTS) == 0  # printed only
    out = run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    assert f"replication slot s_{name} created" in out
    again = run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    assert "nothing changed" in again
    assert scalar(app_url, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM "
                           "pg_publication_tables WHERE pubname = 'skene_pub'") == "user_actions,users"
    # user_actions back to triggers: leaves the publication, identity restored, trigger installed.
    text = (tmp_path / "skene.yaml").read_text().replace(
        "      event: action_type\n", "      event: action_type\n      capture: trigger\n")
    write_config(tmp_path, text)
    run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml")
    assert scalar(app_url, "SELECT string_agg(tablename, ',') FROM pg_publication_tables") == "users"
    assert scalar(app_url, "SELECT relreplident::text FROM pg_class WHERE relname = "
                           "'user_actions'") == "d"
    assert scalar(app_url, "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE "
                           "tgname LIKE 'skene%' AND tgrelid = 'user_actions'::regclass") == (
        "skene_capture_delete,skene_capture_insert,skene_capture_truncate,skene_capture_update")
    # A running listener holds the slot: uninstall still removes everything.
    stop = threading.Event()
    cap = LogicalCapture(app_url, cfg)
    thread = threading.Thread(target=cap.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: scalar(app_url, MY_SLOT_ACTIVE) is True,
                 what="listener streaming")
        out = run_cli("uninstall", "--yes", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    finally:
        stop.set()
        thread.join(30)
    assert f"dropped replication slot s_{name}" in out and "dropped publication skene_pub" in out
    assert scalar(app_url, MY_SLOTS) == 0
    assert scalar(app_url, "SELECT count(*) FROM pg_publication") == 0
    assert scalar(app_url, "SELECT string_agg(relreplident::text, '') FROM pg_class WHERE "
                           "relname IN ('users', 'user_actions') AND relkind = 'r'") == "dd"


def test_status_heartbeat_and_slot_guard(app_url: str, tmp_path: Path) -> None:
    # Small, but above what a checkpoint's full-page images from the cluster's other databases
    # can add meanwhile.
    cfg = write_logical(tmp_path, dbname(app_url), "\n  max_slot_lag: 512kB")
    runner.migrate(app_url, cfg)
    cap = LogicalCapture(app_url, cfg, heartbeat_interval=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=cap.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: scalar(app_url, "SELECT heartbeat_seen_at FROM skene.replication")
                 is not None, what="a heartbeat round trip")
    finally:
        stop.set()
        thread.join(30)
    wait_for(lambda: scalar(app_url, MY_SLOT_ACTIVE) is False,
             what="the walsender to let go")
    report = json.loads(run_cli("status", "--json", url=app_url,
                                config_path=tmp_path / "skene.yaml").stdout)["replication"]
    assert report[0]["slot"] == f"s_{dbname(app_url)}" and report[0]["lag_seconds"] is not None
    assert report[0]["health"].startswith("inactive")  # the listener stopped
    # The listener is gone and the slot falls behind past capture.max_slot_lag (512kB): the next
    # start drops it rather than keep WAL without bound, and says so.
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 8000) g")
    report = json.loads(run_cli("status", "--json", url=app_url,
                                config_path=tmp_path / "skene.yaml").stdout)["replication"]
    assert report[0]["health"].startswith("CRITICAL")
    with psycopg.connect(app_url, row_factory=psycopg.rows.dict_row) as conn:
        assert any(p.severity == "error" and "behind" in p.message
                   for p in check_logical(CheckContext(cfg, app_url, conn)))
    # A listener that made progress within the last minute is only reconnecting: kept.
    assert LogicalCapture(app_url, cfg).drain() == 8000
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) SELECT 'v' || g || '@x.test' "
                     "FROM generate_series(1, 8000) g")
    with pytest.raises(SkeneError, match="was lost: nobody read the slot"):
        LogicalCapture(app_url, cfg, guard_grace=0).drain()
    assert scalar(app_url, MY_SLOTS) == 0
    assert "max_slot_lag" in str(scalar(app_url, "SELECT lost_reason FROM skene.replication"))
    out = run_cli("migrate", url=app_url, config_path=tmp_path / "skene.yaml").stdout
    assert "created" in out and scalar(app_url, MY_SLOTS) == 1


def test_large_transaction_never_times_out_the_walsender(app_url: str, tmp_path: Path) -> None:
    """With wal_sender_timeout at 1 s the server drops a client that stays silent for a second.
    While 200k rows stream through a writer slower than the walsender, the confirmed position
    cannot move (mid-transaction) and the server's keepalive requests wait behind megabytes of
    data: the listener must keep talking by itself. A drain does not reconnect, so a dropped
    connection fails the test."""
    cfg = write_logical(tmp_path, dbname(app_url))
    runner.migrate(app_url, cfg)
    with psycopg.connect(app_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test')")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT 1, 'bulk' FROM generate_series(1, 200000)")
    cap = LogicalCapture(app_url, cfg, extra_options="-c wal_sender_timeout=1s")
    assert cap.drain() == 200_001


def test_idle_listener_is_woken_by_logical_capture_not_by_polling(app_url: str,
                                                                    tmp_path: Path) -> None:
    """Logical capture writes the queue itself, without the triggers' NOTIFY: its batch must
    wake a sleeping consumer, or the first change after a quiet spell waits a poll_interval."""
    text = logical_config(f"s_{dbname(app_url)}").replace("poll_interval: 1s",
                                                          "poll_interval: 120s")
    runner.migrate(app_url, write_config(tmp_path, text))
    proc = start_listener(app_url, tmp_path / "skene.yaml")
    try:
        wait_for(lambda: scalar(app_url, "SELECT bool_or(sleeping_until > now()) FROM "
                                         "skene.listeners") is True, what="listener asleep")
        with psycopg.connect(app_url) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('woken@x.test')")
        # With a 120 s poll interval, only a wake-up gets this handled in time.
        wait_for(lambda: scalar(app_url, "SELECT count(*) FROM skene.events WHERE "
                                         "data->>'email' = 'woken@x.test'") == 1, timeout=40,
                 what="logical capture waking the consumer")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
