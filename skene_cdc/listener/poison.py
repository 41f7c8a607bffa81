"""When a batch fails: find the row that makes it fail, quarantine that row, let the rest go on.

A failing batch is retried with half as many rows until a single row fails alone. That row is
then left out of the next attempt: if the rows after it go through, it was the cause and is
quarantined in the same transaction (kept whole with its error in skene.quarantine, replayable
with `skene-cdc quarantine replay`); if they fail too, the cause is not in the data (a broken
condition, a renamed column, the database itself) and nothing is quarantined: the error is
recorded and the batch is retried later. Errors that say nothing about the data (a lost
connection, a deadlock, a lock or statement timeout, a full disk) never quarantine anything."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

# SQLSTATE classes and codes of failures that are about the moment, not the row.
TRANSIENT_CLASSES = ("08", "40", "53", "54", "57", "58")
TRANSIENT_CODES = {"55P03", "55006"}  # lock_not_available, object_in_use


def transient(exc: BaseException) -> bool:
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in TRANSIENT_CLASSES or state in TRANSIENT_CODES


# attempt(limit, skip): quarantine the first `skip` rows of the window, process up to `limit`
# rows after them, commit; return how many were processed. Raises Unconfirmed when `skip` > 0
# and no row came after them (nothing shows the cause is the rows, not the moment).
Attempt = Callable[[int, int], int]
MAX_RUN = 32  # consecutive rows failing alone before the cause is taken to be elsewhere


class Unconfirmed(Exception):
    """A row fails alone but no later row has shown that others go through."""


def isolate(attempt: Attempt, batch_size: int, error: BaseException) -> int:
    """Called after a batch of `batch_size` failed with `error`. Returns rows done; re-raises
    when the failure is not one row's (or not yet shown to be)."""
    if transient(error):
        raise error
    limit = batch_size
    while limit > 1:
        limit //= 2
        try:
            return attempt(limit, 0)
        except Exception as exc:  # any failure narrows the search
            if transient(exc):
                raise
            error = exc
    for skip in range(1, MAX_RUN + 1):
        try:
            return attempt(1, skip)
        except Unconfirmed:
            raise error from None
        except Exception as exc:
            if transient(exc):
                raise
    raise error
