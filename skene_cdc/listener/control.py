"""Telling running listeners apart from dead ones, and stopping them from outside.

Every database session of `skene-cdc listen` carries the application name `skene-cdc listen
<host>:<pid>`: a listener whose process died (kill -9, a lost machine) leaves its row in
skene.listeners but no session, which is how `status` tells the two apart. `uninstall` asks
running listeners to stop (NOTIFY skene_control, 'uninstall') and waits for their sessions to
end before it drops anything, so a listener stops with one line instead of tracebacks from
tables that vanished under it."""

from __future__ import annotations

import logging
import os
import socket
import time

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row, connect, set_application_name

log = logging.getLogger("skene.listener")

APP_PREFIX = "skene-cdc listen "
CHANNEL = "skene_control"
UNINSTALL = "uninstall"
SCHEMA_CHECK_EVERY = 5.0  # seconds: a schema dropped without `uninstall` is noticed this late


def application_name(listener_id: str) -> str:
    return (APP_PREFIX + listener_id)[:63]


def name_this_process() -> str:
    """Name every database session this process opens from now on after its listener (the
    consumer's default id, host:pid); returns the id. `listen` and the demo call it."""
    listener_id = f"{socket.gethostname()}:{os.getpid()}"
    set_application_name(application_name(listener_id))
    return listener_id


def stop_listeners(conn: psycopg.Connection[Row], timeout: float = 20.0) -> int:
    """Ask every listener connected to this database to stop, and wait (up to `timeout`) for
    their sessions to end; those still there then are terminated. Returns how many there were.
    `conn` must be in autocommit mode (the NOTIFY is delivered on commit)."""
    params = {"prefix": APP_PREFIX + "%"}
    running = conn.execute(sql.load("control/running_listeners"), params).fetchall()
    if not running:
        return 0
    conn.execute(sql.load("control/notify_control"), {"channel": CHANNEL, "what": UNINSTALL})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not conn.execute(sql.load("control/running_listeners"), params).fetchall():
            return len(running)
        time.sleep(0.1)
    conn.execute(sql.load("control/terminate_listeners"), params)
    return len(running)


class ControlChannel:
    """What the listener's main thread watches besides signals: a request to stop because
    skene is being uninstalled, or schema skene gone from under it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.Connection[Row] | None = None
        self._checked = 0.0

    def wait(self, timeout: float) -> str | None:
        """Wait up to `timeout` seconds; "uninstall" when skene is being (or was) removed."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = connect(self.url, autocommit=True)
                self.conn.execute(f"LISTEN {CHANNEL}")
            for note in self.conn.notifies(timeout=timeout, stop_after=1):
                if note.payload == UNINSTALL:
                    return UNINSTALL
            if time.monotonic() - self._checked > SCHEMA_CHECK_EVERY:
                self._checked = time.monotonic()
                row = self.conn.execute(sql.load("control/schema_present")).fetchone()
                if row is not None and not row["present"]:
                    return UNINSTALL
        except (psycopg.Error, OSError) as exc:
            # The database is unreachable: the services report and retry that themselves.
            log.debug("control channel: %s", exc)
            self.close()
            time.sleep(timeout)
        return None

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        self.conn = None
