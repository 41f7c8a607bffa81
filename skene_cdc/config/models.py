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


class Email(Strict):
    provider: Literal["resend", "smtp", "console"] = "console"
    from_: str = Field(alias="from", default="skene <noreply@localhost>")
    templates: str = "templates"
    reply_to: str | None = None
    # The sender: deliveries claimed per transaction, sent `concurrency` at a time. A claimed row
    # whose `lease` runs out (its sender died) is retried with the same idempotency key.
    batch_size: int = Field(default=50, ge=1, le=1000)
    concurrency: int = Field(default=4, ge=1, le=64)
    lease: Duration = timedelta(minutes=5)


class Stripe(Strict):
    webhook_secret: str
    user_id_from: str = "metadata.user_id"
    api_key: str | None = None


class Redis(Strict):
    url: str = "redis://localhost:6379/0"
