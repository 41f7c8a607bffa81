"""Shared helpers for the loop engine tests: configs, running the pipeline in-process, reading
rows back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skene_cdc.config import Config
from skene_cdc.handlers.loops.plan import require_plans
from skene_cdc.handlers.loops.schedule import LoopScheduler
from skene_cdc.runtime import services as runtime
from tests.conftest import DEFAULT_CONFIG, write_config

ACTIVATION = """
  - name: activation
    type: activation
    opinion: Detect when users complete their first key action
    steps:
      - trigger: {type: database, table: users, event: insert}
        condition:
          type: query
          query: SELECT * FROM user_actions WHERE user_id = $1 AND action_type = 'first_project_created'
          timeout: 5s
        action:
          type: email
          provider: resend
          template: activation_welcome
          personalization:
            name: "{{user.name}}"
    recovery: {retries: 3, backoff: exponential}
"""

RETENTION = """
  - name: retention
    type: retention
    opinion: Detect dormant users and trigger personalized re-engagement campaigns
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: dormant, days: 7}
        action:
          type: email
          template: re_engagement
          personalization:
            name: "{{user.name}}"
            lastActivity: "{{user.last_activity_at}}"
    recovery: {retries: 3, backoff: exponential}
"""


def loops_config(tmp_path: Path, *loops: str, email: str = "") -> Config:
    text = DEFAULT_CONFIG + "loops:" + "".join(loops)
    return write_config(tmp_path, text)


def established(url: str, config: Config, days: int = 3) -> None:
    """The loops as a listener registered them `days` ago, so their schedules have a past slot
    to catch up (a loop registered just now first fires at its next slot)."""
    from skene_cdc.handlers.loops.handler import register_loops

    with psycopg.connect(url, row_factory=dict_row) as conn:
        register_loops(conn, config)
        conn.execute("UPDATE skene.loops SET registered_at = registered_at - make_interval("
                     "days => %(d)s), updated_at = updated_at - make_interval(days => %(d)s)",
                     {"d": days})


def pipeline(url: str, config: Config) -> dict[str, int]:
    """`skene-cdc listen --once`, in-process: consume events, then fire what is due."""
    return runtime.drain_once(runtime.build_services(url, config))


def run_loop(url: str, config: Config, name: str) -> None:
    """`skene-cdc loops run NAME`, in-process (the CLI test covers the command itself)."""
    from skene_cdc.cli.loops import _run_one
    from skene_cdc.handlers.loops.handler import register_loops

    plans = require_plans(config)
    scheduler = LoopScheduler(url, config, plans, listener_id="test")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        runtime.process_pending(conn, runtime.build_consumer(url, config))
        with conn.transaction():
            register_loops(conn, config)
            for plan in plans:
                if plan.loop.name == name:
                    _run_one(conn, config, scheduler, plan)


def rows(url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def execute(url: str, query: str, params: Any = None) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(query, params)


def add_users(url: str, *users: tuple[int, str]) -> None:
    with psycopg.connect(url) as conn:
        for uid, name in users:
            conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, %s)",
                         (uid, f"{name.lower()}@x.test", name))


def act(url: str, user_id: int, action: str, days_ago: float = 0, times: int = 1) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) "
                     "SELECT %s, %s, now() - make_interval(secs => %s) "
                     "FROM generate_series(1, %s)", (user_id, action, days_ago * 86400, times))


def deliveries(url: str, loop: str | None = None) -> list[dict[str, Any]]:
    return rows(url, "SELECT * FROM skene.deliveries WHERE %(loop)s::text IS NULL "
                     "OR loop = %(loop)s ORDER BY user_id, id", {"loop": loop})


def enrolments(url: str, loop: str) -> dict[str, dict[str, Any]]:
    return {r["user_id"]: r for r in rows(
        url, "SELECT * FROM skene.enrolments WHERE loop = %s ORDER BY id", (loop,))}
