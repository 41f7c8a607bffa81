"""The `loops` section: the seeds' `defineLoop` (type, opinion, steps of trigger/condition/action,
recovery) in YAML."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from skene_cdc.config.types import Duration, Strict, format_duration, parse_duration

# --- triggers -------------------------------------------------------------------------------


class DatabaseTrigger(Strict):
    type: Literal["database"]
    table: str
    event: Literal["insert", "update", "delete"] = "insert"


class ScheduleTrigger(Strict):
    type: Literal["schedule"]
    cron: str
    timezone: str = "UTC"


class ApiTrigger(Strict):
    type: Literal["api"]
    endpoint: str
    method: str = "POST"


class EventTrigger(Strict):
    """Fires on any captured event with this name (e.g. `first_project_created`)."""

    type: Literal["event"]
    event: str


Trigger = Annotated[
    DatabaseTrigger | ScheduleTrigger | ApiTrigger | EventTrigger, Field(discriminator="type")
]

# --- conditions -----------------------------------------------------------------------------


class QueryCondition(Strict):
    type: Literal["query"]
    query: str
    timeout: Duration = timedelta(seconds=30)


class DormantCondition(Strict):
    type: Literal["dormant"]
    days: int = Field(default=7, ge=1)


class DecliningCondition(Strict):
    type: Literal["declining"]
    ratio: float = Field(default=0.5, gt=0, lt=1)
    min_last_week: int = Field(default=3, ge=1)


class StoppedCondition(Strict):
    type: Literal["stopped"]
    event: str
    days: int = Field(default=7, ge=1)


class UsageLimit(Strict):
    free: float = Field(default=100, ge=0)
    paid: float = Field(default=float("inf"), ge=0)


def _period(value: Any) -> timedelta | str:
    if isinstance(value, str) and value.strip().lower() in ("month", "monthly", "1mo"):
        return "month"
    try:
        period = parse_duration(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a period; write e.g. 30d, 7d, 1h or month") from None
    if period < timedelta(seconds=1):
        raise ValueError("a usage period must be at least 1s")
    return period


def _format_period(value: timedelta | str) -> str:
    return value if isinstance(value, str) else format_duration(value)


Period = Annotated[timedelta | Literal["month"], BeforeValidator(_period),
                   PlainSerializer(_format_period, when_used="json")]


class UsageCondition(Strict):
    """Requests per period. `period` is a fixed length (`30d`: windows of exactly 30 days,
    starting at the billing anchor when Stripe gave one, else at the Unix epoch) or `month`:
    calendar months (UTC), or billing months from the anchor's day like Stripe's cycle."""

    type: Literal["usage"]
    limit: UsageLimit = Field(default_factory=UsageLimit)
    period: Period = timedelta(days=30)


class MilestoneCondition(Strict):
    type: Literal["milestone"]
    event: str | None = None
    counts: list[int] = Field(min_length=1)


Condition = Annotated[
    QueryCondition
    | DormantCondition
    | DecliningCondition
    | StoppedCondition
    | UsageCondition
    | MilestoneCondition,
    Field(discriminator="type"),
]

# --- actions --------------------------------------------------------------------------------


class Variant(Strict):
    template: str
    weight: float = Field(default=1, gt=0)


class Fallback(Strict):
    """A personalization value that may be missing for some users:
    `name: {value: "{{ user.name }}", fallback: there}`. The fallback (itself a template) is used
    when `value` renders empty or NULL; a variable that does not exist at all is still an error,
    so a typo cannot hide behind a fallback."""

    value: str
    fallback: str = Field(min_length=1, pattern=r"\S")


Personalization = str | Fallback


def personalization_json(items: Mapping[str, Personalization]) -> dict[str, Any]:
    """As a delivery's context stores it (and the sender reads it back)."""
    return {k: v if isinstance(v, str) else v.model_dump() for k, v in items.items()}


class EmailAction(Strict):
    type: Literal["email"]
    provider: Literal["resend", "smtp", "console"] | None = None
    template: str | None = None
    variants: list[Variant] = Field(default_factory=list)
    personalization: dict[str, Personalization] = Field(default_factory=dict)


class BlockAction(Strict):
    type: Literal["block"]
    message: str
    upgrade_url: str | None = Field(default=None, alias="upgradeUrl")
    upgrade_prompt: EmailAction | None = Field(default=None, alias="upgradePrompt")
    # Redis unreachable: let requests through (logged at most once a minute), or answer 503.
    fail_open: bool = Field(default=True, alias="failOpen")


Action = Annotated[EmailAction | BlockAction, Field(discriminator="type")]

# --- loops ----------------------------------------------------------------------------------


class Step(Strict):
    trigger: Trigger
    condition: Condition
    action: Action


class Recovery(Strict):
    retries: int = Field(default=3, ge=0, le=50)
    backoff: Literal["exponential", "linear", "fixed"] = "exponential"
    base_delay: Duration = timedelta(seconds=2)
    max_delay: Duration = timedelta(hours=1)


def _share(value: Any) -> float:
    """`10%` or a fraction such as 0.1."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            pass
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        return float(value)
    raise ValueError(f"{value!r} is not a share; write e.g. 10% (or 0.1)")


Share = Annotated[float, BeforeValidator(_share), Field(ge=0, le=0.9)]


class Loop(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    type: Literal["activation", "retention", "freemium", "milestone"]
    opinion: str = ""
    steps: list[Step] = Field(min_length=1)
    recovery: Recovery = Field(default_factory=Recovery)
    within: Duration = timedelta(days=7)
    cooldown: Duration = timedelta(days=30)
    goal_window: Duration = timedelta(days=7)
    enroll: Literal["new", "existing", "all"] = "new"
    # Under a frequency cap, the email of the loop with the higher priority goes first.
    priority: int = Field(default=0, ge=-1000, le=1000)
    # Held out of the email (sticky per user), followed for the goal: the control group.
    holdout: Share | None = None
    # Not growth email (receipts, password resets): no List-Unsubscribe header, and opt-outs,
    # frequency caps and quiet hours do not apply.
    transactional: bool = False

    @model_validator(mode="after")
    def _holdout_needs_a_goal_after_the_email(self) -> Loop:
        if self.holdout and self.type != "retention":
            raise ValueError(
                f"holdout needs a goal that comes after the email, which only retention loops "
                f"have; remove holdout from this {self.type} loop")
        if self.holdout and self.transactional:
            raise ValueError("a transactional loop's email is not optional: remove holdout")
        return self
