"""The listener notices when the app changes its users table and rebuilds `skene.users` itself.

skene.users reads the app's columns through a function whose body is a string, so the app's own
migrations never fail because of it; the price is that a dropped or retyped column breaks or
leaves the view stale until it is rebuilt. Every WATCH_EVERY seconds the consumer asks here for a
fingerprint of the users table's columns (one catalog query); when it changed (and once at
start) skene.users and skene.users_by_id are planned again from skene.yaml (the same planner as
`migrate`) and rebuilt if they differ, with a short lock timeout so the listener never queues
behind, or in front of, the app's own migration. A column skene.yaml maps that the app renamed or
dropped reads as NULL until skene.yaml is fixed (an id column that is gone cannot be worked
around: then nothing is rebuilt). A captured column whose name looks secret (one the app added
after `migrate`) is warned about. Every outcome is logged once, not per batch."""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.errors import SkeneError, first_line
from skene_cdc.migrations import capture
from skene_cdc.migrations.app_schema import registry_findings
from skene_cdc.migrations.users_view import UsersViewError, gone, plan_users_view

log = logging.getLogger("skene.listener")

WATCH_EVERY = 30.0  # seconds between looks at the users table's columns


class UsersWatch:
    def __init__(self, config: Config, every: float = WATCH_EVERY) -> None:
        self.config = config
        self.every = every
        self.checked_at = -float("inf")
        self.signature: str | None = None
        self.looked = False
        self._logged: set[str] = set()

    def poll(self, conn: psycopg.Connection[Row], force: bool = False) -> list[str]:
        """Look if it is time (or `force`); rebuild what the change needs. Returns what was
        done. Never raises for a database error (the consumer's batch goes on) and leaves no
        transaction open."""
        now = time.monotonic()
        if not force and now - self.checked_at < self.every:
            return []
        self.checked_at = now
        try:
            with conn.transaction():
                row = conn.execute(sql.load("capture/table_signature"),
                                   {"name": self.config.app.users.table}).fetchone()
                signature = row["signature"] if row else None
                self._warn_secrets(conn)
            if self.looked and signature == self.signature:
                return []
            done = self._rebuild(conn)
        except (psycopg.Error, SkeneError) as exc:
            if not (conn.closed or conn.broken):
                conn.rollback()
            self._once(f"failed:{first_line(exc)}", logging.WARNING,
                       "users watch: could not check or rebuild skene.users for %s (%s); "
                       "trying again in %.0fs (`skene-cdc migrate` rebuilds it too)",
                       self.config.app.users.table, first_line(exc), self.every)
            return []
        self.looked, self.signature = True, signature
        return done

    def _rebuild(self, conn: psycopg.Connection[Row]) -> list[str]:
        table = self.config.app.users.table
        with conn.transaction():
            specs, _problems = capture.resolve_all(conn, self.config)
            users = next((s for s in specs if s.role == "users"), None)
            if users is None:
                self._once(f"no-table:{table}", logging.ERROR,
                           "users watch: the users table %s (app.users.table) does not exist: "
                           "skene.users cannot be built. Point app.users.table in skene.yaml at "
                           "the table and run `skene-cdc migrate`", table)
                return []
            lost = gone(self.config, users)
            if lost:
                self._once(f"lost:{lost}", logging.WARNING,
                           "users watch: %s no longer has %s (renamed or dropped by the app): "
                           "skene.users shows NULL there until skene.yaml names the new column "
                           "and `skene-cdc migrate` runs; capture goes on", users.table_name,
                           ", ".join(f"column {c!r} (app.users.{k})" for k, c in lost))
            try:
                plan = plan_users_view(conn, self.config, specs, installed=True, degrade=True)
            except UsersViewError as exc:
                self._once(f"unbuildable:{exc}", logging.ERROR,
                           "users watch: %s: skene.users cannot be rebuilt. Point app.users.id "
                           "in skene.yaml at the table's key and run `skene-cdc migrate`", exc)
                return []
        if not plan.steps:
            return []
        # Never wait for the app's locks: if its migration holds the table, try again later.
        plan.steps.insert(0, ("lock timeout", pgsql.SQL(sql.load("capture/lock_timeout"))))
        capture.apply(conn, plan)
        labels = [label for label, _ in plan.steps[1:]]
        log.info("users watch: %s changed: %s", users.table_name, "; ".join(labels))
        return labels

    def _warn_secrets(self, conn: psycopg.Connection[Row]) -> None:
        for f in registry_findings(conn):
            if f.severity == "warning":
                self._once(f"secret:{f.table}:{f.column}", logging.WARNING,
                           "users watch: %s: %s. Fix: %s", f.table, f.problem, f.fix)

    def _once(self, key: str, level: int, msg: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.log(level, msg, *args)
