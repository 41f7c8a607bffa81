"""What the listener hands to handlers: events, in commit-safe order, inside its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from skene_cdc.db import Row


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    txid: int
    occurred_at: datetime
    captured_at: datetime
    source: str
    table_name: str | None
    op: str
    user_id: str | None
    event: str | None
    activity: bool
    data: dict[str, Any] | None
    external_id: str | None = None

    @property
    def backfilled(self) -> bool:
        """Imported history (`skene-cdc backfill`), not something that just happened."""
        return (self.external_id or "").startswith("backfill:")

    @classmethod
    def from_row(cls, row: Row) -> Event:
        fields: dict[str, Any] = {k: row.get(k) for k in cls.__slots__}
        return cls(**fields)


class Handler(Protocol):
    """Handlers run inside the listener's batch transaction: whatever they write commits together
    with the cursor advance, so a crash re-runs the batch and never half-applies it. They must
    still be idempotent, because a batch may be run again after a rollback."""

    name: str

    def handle(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None: ...
