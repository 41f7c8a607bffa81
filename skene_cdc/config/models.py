"""The `app`, `capture`, `email`, `stripe` and `redis` sections of skene.yaml."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from skene_cdc.config.types import Duration, Strict

CaptureMode = Literal["trigger", "logical"]


class UsersTable(Strict):
    table: str
    id: str = "id"
    email: str = "email"
    name: str | None = None
    created_at: str | None = None
    stripe_customer_id: str | None = None
    capture: CaptureMode | None = None


class ActivityTable(Strict):
    table: str
    user_id: str = "user_id"
    timestamp: str | None = None
    event: str | None = None
    capture: CaptureMode | None = None


class App(Strict):
    users: UsersTable
    activity: list[ActivityTable] = Field(default_factory=list)


class Capture(Strict):
    mode: CaptureMode = "trigger"
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    poll_interval: Duration = timedelta(seconds=1)
    # Logical replication (capture.mode: logical, or a table's own `capture: logical`).
    slot: str = Field(default="skene_slot", pattern=r"^[a-z0-9_]{1,63}$")
    publication: str = Field(default="skene_pub", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    max_slot_lag: str = "1GB"
    # full: REPLICA IDENTITY FULL on logically captured tables, so deletes carry the whole old row
    # and unchanged TOASTed values are known (same events as trigger mode). minimal: only where a
    # delete could not otherwise name its user (see docs/logical.md).
    replica_identity: Literal["full", "minimal"] = "full"


class Email(Strict):
    provider: Literal["resend", "smtp", "console"] = "console"
    from_: str = Field(alias="from", default="skene <noreply@localhost>")
    templates: str = "templates"
    reply_to: str | None = None


class Stripe(Strict):
    webhook_secret: str
    user_id_from: str = "metadata.user_id"
    api_key: str | None = None


class Redis(Strict):
    url: str = "redis://localhost:6379/0"
