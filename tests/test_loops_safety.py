"""Bad condition SQL is refused before anything runs, naming loop, step and line; a condition
that fails or times out at run time is recorded, retried per `recovery`, and the listener goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from skene_cdc.checks import CheckContext
from skene_cdc.db import connect
from skene_cdc.errors import ConfigError
from skene_cdc.handlers.loops.check import check_loops
from skene_cdc.handlers.loops.plan import require_plans
from skene_cdc.handlers.loops.safety import UnsafeQuery, bind_user, inspect_query
from tests.conftest import DEFAULT_CONFIG, run_cli, write_config
from tests.loops_support import (
    ACTIVATION,
    act,
    add_users,
    deliveries,
    enrolments,
    established,
    execute,
    loops_config,
    pipeline,
    rows,
)


@pytest.mark.parametrize(("query", "reason", "line"), [
    ("DELETE FROM users WHERE id = $1", "it is DELETE, not a SELECT", 1),
    ("SELECT 1 AS user_id;\nDROP TABLE users", "2 statements", 2),
    ("SELECT id FROM users WHERE pg_sleep(10) IS NOT NULL", "pg_sleep()", 1),
    ("SELECT id\nFROM users, pg_catalog.pg_sleep_for('1 hour')", "pg_sleep_for()", 2),
    ("CREATE TABLE x (id int)", "CREATE TABLE", 1),
    ("WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d", "data-modifying DELETE", 1),
    ("SELECT id INTO backup FROM users", "SELECT INTO", None),
    ("SELECT id FROM users FOR UPDATE", "FOR UPDATE", None),
    ("SELECT * FROM dblink('host=evil', 'select 1') AS t(id int)", "dblink()", 1),
    ("SELECT set_config('role', 'postgres', false) AS id", "set_config()", 1),
    ("SELECT lo_import('/etc/passwd') AS id", "lo_import()", 1),
    ("SELECT id FROM users WHERE id = $2", "$2", 1),
    ("SELECT FROM WHERE", "not valid SQL", 1),
    ("UPDATE users SET name = 'x'", "it is UPDATE", 1),
])
def test_unsafe_queries_are_refused_with_the_reason(query: str, reason: str,
                                                    line: int | None) -> None:
    with pytest.raises(UnsafeQuery) as exc:
        inspect_query(query)
    assert reason in exc.value.reason
    assert exc.value.line == line


def test_safe_queries_and_what_they_read() -> None:
    info = inspect_query("WITH recent AS (SELECT * FROM public.user_actions WHERE created_at > "
                         "now() - interval '1 day') SELECT u.id, r.action_type FROM users u "
                         "JOIN recent r ON r.user_id = u.id WHERE u.id = $1 AND u.name LIKE "
                         "'a%$1' ;")
    assert info.tables == {("public", "user_actions"), (None, "users")}  # not the CTE
    assert info.touched_by("public.users") and info.touched_by("public.user_actions")
    assert not info.touched_by("public.orders") and not info.reads_skene
    # $1 inside a string literal is text, not the parameter
    assert bind_user(info, "'42'").endswith("u.id = '42' AND u.name LIKE 'a%$1'")
    assert inspect_query("SELECT * FROM skene.users WHERE plan = 'free'").reads_skene


BAD = """
  - name: cleanup
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "DELETE FROM users"}
        action: {type: email, template: t}
      - trigger: {type: schedule, cron: "0 10 * * *"}
        condition:
          type: query
          query: |
            SELECT id FROM users;
            SELECT id FROM users
        action: {type: email, template: t}
      - trigger: {type: schedule, cron: "61 * * * *", timezone: Mars/Olympus}
        condition: {type: query, query: "SELECT id FROM users WHERE pg_sleep(5) IS NULL"}
        action: {type: email, template: t}
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "ALTER TABLE users ADD COLUMN x int"}
        action: {type: email, template: t}
"""


def test_bad_conditions_are_refused_at_load_naming_loop_step_and_line(tmp_path: Path) -> None:
    config = loops_config(tmp_path, BAD)
    with pytest.raises(ConfigError) as exc:
        require_plans(config)
    text = str(exc.value)
    src = config.source
    lines = (tmp_path / "skene.yaml").read_text().splitlines()

    def line_of(needle: str, nth: int = 0) -> int:
        return [i for i, t in enumerate(lines, 1) if needle in t][nth]

    assert (f"{src}:{line_of('DELETE FROM users')}: loop 'cleanup' step 1: condition query "
            "refused (line 1 of the query): it is DELETE, not a SELECT") in text
    assert (f"{src}:{line_of('query: |')}: loop 'cleanup' step 2: condition query refused "
            "(line 2 of the query): it holds 2 statements") in text
    assert f"{src}:{line_of('pg_sleep')}: loop 'cleanup' step 3" in text and "pg_sleep()" in text
    assert "'61 * * * *' is not a cron expression" in text
    assert "unknown time zone 'Mars/Olympus'" in text
    assert "step 4: condition query refused (line 1 of the query): it is ALTER TABLE" in text


def test_listen_and_loops_run_refuse_bad_config_and_change_nothing(db_url: str,
                                                                   tmp_path: Path) -> None:
    loops_config(tmp_path, BAD)
    before = rows(db_url, "SELECT count(*) AS n FROM users")
    for args in (("listen", "--once"), ("loops", "run", "cleanup"), ("loops", "run", "cleanup",
                                                                     "--dry-run")):
        proc = run_cli(*args, url=db_url, config_path=tmp_path / "skene.yaml", check=False)
        assert proc.returncode == 2, proc.stderr
        assert "loop 'cleanup' step 1: condition query refused" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert rows(db_url, "SELECT count(*) AS n FROM users") == before
    assert rows(db_url, "SELECT count(*) AS n FROM skene.schedule_firings") == [{"n": 0}]


def test_check_registry_reports_refused_and_broken_queries(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, DEFAULT_CONFIG + "loops:" + BAD + """
  - name: typo
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "SELECT * FROM users WHERE re_engagement_sent = false"}
        action: {type: email, template: t}
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "SELECT name FROM skene.users"}
        action: {type: email, template: t}
""")
    with connect(db_url) as conn:
        problems = list(check_loops(CheckContext(config, db_url, conn)))
    messages = [p.message for p in problems]
    assert sum("cleanup" in m for m in messages) == 6  # 4 queries, cron, time zone
    assert any("loop 'typo' step 1: the condition query does not run: column "
               "\"re_engagement_sent\" does not exist" in m for m in messages)
    assert any("loop 'typo' step 2: the condition query returns no user_id or id column" in m
               for m in messages)
    assert all(p.where.startswith(config.source + ":") for p in problems)


SLOW = """
  - name: slow
    type: activation
    steps:
      - trigger: {type: database, table: users, event: insert}
        condition:
          type: query
          query: >-
            SELECT u.id FROM users u WHERE u.id = $1
            AND (SELECT count(*) FROM generate_series(1, 100000000)) > 0
          timeout: 200ms
        action: {type: email, template: slow}
    recovery: {retries: 1, backoff: fixed, base_delay: 1s}
"""


def test_a_timeout_is_recorded_retried_and_the_listener_goes_on(db_url: str,
                                                                tmp_path: Path) -> None:
    config = loops_config(tmp_path, SLOW, ACTIVATION)
    add_users(db_url, (1, "Ann"))
    act(db_url, 1, "first_project_created")
    pipeline(db_url, config)
    slow = enrolments(db_url, "slow")["1"]
    assert slow["state"] == "enrolled" and slow["failures"] == 1
    assert "timed out" in slow["last_error"] and "statement timeout" in slow["last_error"]
    assert slow["retry_at"] is not None
    # the same batch still committed: the other loop acted and the cursor moved on
    assert [d["loop"] for d in deliveries(db_url)] == ["activation"]
    assert rows(db_url, "SELECT processed FROM skene.cursors") == [{"processed": 2}]
    # the retry (recovery.retries: 1) fails too: the enrolment gives up as failed
    execute(db_url, "UPDATE skene.enrolments SET retry_at = now() WHERE loop = 'slow'")
    pipeline(db_url, config)
    slow = enrolments(db_url, "slow")["1"]
    assert (slow["state"], slow["failures"], slow["evaluations"]) == ("failed", 2, 2)
    # and the listener keeps processing
    add_users(db_url, (2, "Bob"))
    act(db_url, 2, "first_project_created")
    pipeline(db_url, config)
    assert [d["user_id"] for d in deliveries(db_url, "activation")] == ["1", "2"]


def test_a_failing_scheduled_query_is_retried_then_dead(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, """
  - name: broken
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "SELECT id AS user_id FROM users WHERE 1 / (id - id) = 0"}
        action: {type: email, template: t}
    recovery: {retries: 1, backoff: fixed, base_delay: 1s}
""")
    established(db_url, config)  # registered before the slot
    add_users(db_url, (1, "Ann"))
    pipeline(db_url, config)
    [firing] = rows(db_url, "SELECT * FROM skene.schedule_firings")
    assert firing["state"] == "failed" and "division by zero" in firing["last_error"]
    execute(db_url, "UPDATE skene.schedule_firings SET retry_at = now()")
    pipeline(db_url, config)
    [firing] = rows(db_url, "SELECT * FROM skene.schedule_firings")
    assert (firing["state"], firing["attempts"]) == ("dead", 2)
    assert deliveries(db_url) == []
