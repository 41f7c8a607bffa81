"""The `app`, `capture`, `email`, `stripe` and `redis` sections of skene.yaml."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, model_validator

from skene_cdc.config.types import Duration, Limit, Size, Strict, TableName

CaptureMode = Literal["trigger", "logical"]


class ColumnChoice(Strict):
    """Which of a table's columns leave it (in trigger and logical capture alike). With neither
    list, every column except those that look secret (docs/config.md lists the patterns)."""

    include: list[str] | None = None
    exclude: list[str] | None = None
    # An update that changes no captured column (a login that only touches an excluded
    # column) is not an event unless this is true.
    capture_unchanged_updates: bool = False

    @model_validator(mode="after")
    def _one_list(self) -> ColumnChoice:
        if self.include is not None and self.exclude is not None:
            raise ValueError("give `include` or `exclude`, not both: `include` lists exactly the "
                             "columns to capture, `exclude` the ones to leave out")
        return self


class UsersTable(ColumnChoice):
    table: TableName
    id: str = "id"
    email: str = "email"
    name: str | None = None
    created_at: str | None = None
    stripe_customer_id: str | None = None
    # A column holding each user's IANA time zone (Europe/Berlin): quiet hours follow it.
    timezone: str | None = None
    # Apps whose profiles live in Redis: a hash key pattern such as "user:{id}". Its `email` and
    # `name` fields (the names above) fill the upgrade email when the SQL row has none.
    redis_hash: str | None = Field(default=None, pattern=r"\{id\}")
    capture: CaptureMode | None = None


class ActivityTable(ColumnChoice):
    table: TableName
    user_id: str = "user_id"
    timestamp: str | None = None
    event: str | None = None
    capture: CaptureMode | None = None


class App(Strict):
    users: UsersTable
    activity: list[ActivityTable] = Field(default_factory=list)


class Events(Strict):
    """How long skene.events keeps history. Rollups, enrolments and deliveries are kept
    independently, so loops decide the same users whatever the retention."""

    retention: Duration | Literal["forever"] = timedelta(days=30)
    # `check` warns when the history would outgrow this at the current rate ("10GB", "500MB").
    disk_budget: Size | None = None


class Capture(Strict):
    mode: CaptureMode = "trigger"
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    poll_interval: Duration = timedelta(seconds=1)
    # Logical replication (capture.mode: logical, or a table's own `capture: logical`).
    slot: str = Field(default="skene_slot", pattern=r"^[a-z0-9_]{1,63}$")
    publication: str = Field(default="skene_pub", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    max_slot_lag: Limit = 1024**3  # bytes (1GB); None: off
    # full: REPLICA IDENTITY FULL on logically captured tables, so deletes carry the whole old row
    # and unchanged TOASTed values are known (same events as trigger mode). minimal: only where a
    # delete could not otherwise name its user (see docs/logical.md).
    replica_identity: Literal["full", "minimal"] = "full"


class Roles(Strict):
    """The NOLOGIN roles `migrate` creates, each with exactly the rights one part needs (see
    docs/production.md). Role names are cluster-wide; two databases may share them."""

    # Owns skene.capture(): may only append to skene's capture queue. Whatever app code a
    # trigger runs on the way (a cast to json on the app's own type) runs with these rights.
    capture: str = Field(default="skene_capture", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Conditions run as this role (SET LOCAL ROLE): SELECT on the configured app tables and
    # skene's read views, nothing else.
    reader: str = Field(default="skene_reader", pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class Unsubscribe(Strict):
    """One-click unsubscribe (RFC 8058): where `skene-cdc serve` (or the app that mounts it)
    answers, and the key that signs each link. See docs/email.md#compliance."""

    url: str = Field(pattern=r"^https?://[^\s?#]+(\?[^\s#]*)?$")
    # HMAC key for the links; omitted: the environment's SKENE_UNSUBSCRIBE_SECRET.
    secret: str | None = None
    # Also offer `mailto:` in List-Unsubscribe (someone must act on what arrives there).
    mailto: str | None = Field(default=None, pattern=r"^[^\s@<>,]+@[^\s@<>,]+$")
    # What one click opts out of: every growth email, or only the loop that sent it.
    scope: Literal["all", "loop"] = "all"
    # How long a link works (CAN-SPAM: at least 30 days after the email is sent).
    expires: Duration = timedelta(days=90)


class ResendWebhook(Strict):
    # Resend's signing secret for the endpoint (whsec_...), usually ${RESEND_WEBHOOK_SECRET}.
    webhook_secret: str = Field(min_length=1)


class FrequencyCap(Strict):
    """At most `max` growth emails to one user in any `per` (a sliding window)."""

    max: int = Field(ge=1, le=1000)
    per: Duration


def _caps(value: Any) -> Any:
    # `frequency: {max: 1, per: 24h}` is one rule; a list gives several.
    return [value] if isinstance(value, dict) else value


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 21:00 as the sexagesimal number 1260.
        value = f"{value // 60}:{value % 60:02d}"
    if isinstance(value, str):
        try:
            hour, minute = value.strip().split(":")
            return time(int(hour), int(minute))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a time of day; write e.g. \"21:00\"")


Clock = Annotated[time, BeforeValidator(_clock)]


class QuietHours(Strict):
    """No growth email between `start` and `end` in the user's time zone (app.users.timezone,
    else `timezone`); one due then waits for `end`."""

    start: Clock
    end: Clock
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}; use an IANA name such as UTC "
                             "or Europe/Berlin") from None
        if self.start == self.end:
            raise ValueError("quiet_hours start and end are the same time: give a window, e.g. "
                             "start: \"21:00\", end: \"08:00\"")
        return self


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
    # Compliance (docs/email.md#compliance): one-click unsubscribe, provider webhooks, pacing.
    unsubscribe: Unsubscribe | None = None
    resend: ResendWebhook | None = None
    frequency: Annotated[list[FrequencyCap], BeforeValidator(_caps)] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None


class Stripe(Strict):
    webhook_secret: str
    # Where Stripe objects name the app's user: `metadata.<key>`, `client_reference_id`, or
    # `app.users.stripe_customer_id` (the users table's customer column). `check` refuses others.
    user_id_from: str = Field(default="metadata.user_id",
                              pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    api_key: str | None = None
    # Re-read each event's subscription/customer from Stripe's API (needs api_key) and store that
    # current state rather than the event's snapshot.
    refetch: bool = False
    # A free -> paid change this soon after an upgrade prompt is that prompt's conversion.
    conversion_window: Duration = timedelta(days=30)


class RedisStream(Strict):
    """An app's Redis Stream read as a capture source (consumer group, XACK after commit)."""

    stream: str = Field(min_length=1)
    group: str = Field(default="skene", min_length=1)
    user_id: str = "user_id"              # entry field holding the user id
    event: str | None = "event"           # entry field naming the event; None -> "redis:<stream>"
    timestamp: str | None = None          # entry field with epoch s/ms or ISO 8601; None -> entry id
    activity: bool = True
    start: Literal["0", "$"] = "0"        # where a new group starts: the whole stream, or new only


class Redis(Strict):
    url: str = "redis://localhost:6379/0"
    # Gate requests wait at most this long for Redis before fail_open decides.
    timeout: Duration = timedelta(milliseconds=250)
    key_prefix: str = "skene:"
    streams: list[RedisStream] = Field(default_factory=list)
    consumer: str | None = None           # consumer name in the groups; default: the host name
    claim_after: Duration = timedelta(seconds=60)  # claim a silent consumer's pending entries
    batch_size: int = Field(default=500, ge=1, le=10_000)
