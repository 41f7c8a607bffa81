"""What the listener hands to handlers: events, in commit-safe order, inside its transaction."""

from __future__ import annotations

import json
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
    # The row as JSON text: most events never need it in Python (the rollups are SQL), so it is
    # parsed only when read, through `data`.
    data_text: str | None
    external_id: str | None = None

    @property
    def data(self) -> dict[str, Any] | None:
        return json.loads(self.data_text) if self.data_text is not None else None

    @property
    def backfilled(self) -> bool:
        """Imported history (`skene-cdc backfill`), not something that just happened."""
        return (self.external_id or "").startswith("backfill:")



class Handler(Protocol):
    """Handlers run inside the listener's batch transaction: whatever they write commits together
    with the cursor advance, so a crash re-runs the batch and never half-applies it. They must
    still be idempotent, because a batch may be run again after a rollback."""

    name: str

    def handle(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None: ...
