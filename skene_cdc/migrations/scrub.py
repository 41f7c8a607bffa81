"""When capture leaves out a column it used to copy (an upgrade from a version that captured every
column, or an `exclude:` list that grew), `migrate` also removes that column from what skene
already stored: the history, the queue, quarantined rows, the last activity's data, and the
contexts deliveries were rendered with. Otherwise a password hash captured before the upgrade
would stay readable by every template and SQL condition.

Planned against the registry as installed (skene.captured_tables: mode and list), in the same
transaction as the trigger replacement, so rows the old trigger wrote are all committed and
covered; nothing is planned when the stored data cannot hold such a column (a new table, an
unchanged or shorter list)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.migrations.capture import EXTRA_PLANNERS, CaptureSpec, Plan
from skene_cdc.migrations.columns import kept

QUEUE_TABLES = ("queue_0", "queue_1", "queue_2")  # the rotating tables behind skene.queue


def plan_scrub(conn: psycopg.Connection[Row], config: Config, specs: Sequence[CaptureSpec],
               installed: bool) -> Plan:
    plan = Plan()
    if not installed:
        return plan
    before = {r["table_name"]: (r["column_mode"], r["column_list"])
              for r in conn.execute(sql.load("scrub/installed_lists"))}
    for spec in specs:
        if spec.table_name not in before:
            continue  # capture starts now: nothing of it is stored yet
        mode, listed = before[spec.table_name]
        keys = [c for c in spec.selection.left_out if kept(mode, listed, c)]
        if not keys:
            continue
        args = {"table_name": pgsql.Literal(spec.table_name), "keys": pgsql.Literal(keys),
                "relid": pgsql.Literal(spec.relid)}
        statement = pgsql.SQL(sql.load("scrub/left_out")).format(
            activity=pgsql.Literal(spec.role == "activity"),
            users=pgsql.Literal(spec.role == "users"), **args)
        for part in QUEUE_TABLES:
            statement += pgsql.SQL("\n") + pgsql.SQL(sql.load("scrub/left_out_queue")).format(
                queue=pgsql.Identifier("skene", part), **args)
        plan.add(f"{spec.table_name}: {', '.join(keys)} removed from what skene stored (capture "
                 "leaves it out now)", statement)
    return plan


EXTRA_PLANNERS.append(plan_scrub)
