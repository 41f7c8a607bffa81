"""Every check `skene-cdc check` runs, in the order it reports them: one list, here.

Each area keeps its checks next to what they check and imports only skene_cdc.checks; this list
is the one place that knows them all (import order decides nothing). Database and config first
(nothing else is worth reading while a table is missing), then capture, the conditions' role,
loops, email, freemium and billing."""

from __future__ import annotations

from skene_cdc.billing.checks import check_stripe
from skene_cdc.checks import Check, CheckContext, Problem, run_each
from skene_cdc.freemium.checks import check_freemium, check_redis
from skene_cdc.handlers.email.checks import check_email, check_personalization
from skene_cdc.handlers.email.compliance import check_compliance
from skene_cdc.handlers.loops.check import check_loops
from skene_cdc.inspect.column_checks import app_schema, secret_columns
from skene_cdc.inspect.prereqs import (
    capture_role,
    config_matches_database,
    history_budget,
    migrations_current,
    privileges,
)
from skene_cdc.migrations.logical import check_logical
from skene_cdc.migrations.reader_role import check_reader

CHECKS: tuple[Check, ...] = (
    # skene.yaml against the database, migrations, drift, privileges, the history's budget
    config_matches_database, migrations_current, privileges, capture_role, history_budget,
    app_schema, secret_columns,  # skene.users against the app's table; secret-looking columns
    check_logical,  # logical capture: wal_level, REPLICATION, slots, slot lag
    check_reader,  # the role conditions run as: exists, reads only
    check_loops,  # SQL conditions: one read-only SELECT; loop plans
    check_email, check_personalization, check_compliance,  # templates, provider, unsubscribe
    check_freemium, check_redis,  # the gate's rules and templates, Redis
    check_stripe,  # the webhook secret, user ids, refetch
)


def run_checks(ctx: CheckContext) -> list[Problem]:
    return run_each(ctx, CHECKS)
