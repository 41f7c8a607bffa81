"""From skene.yaml's loops to what the engine runs: one StepPlan per step it owns, and every
problem found on the way (bad SQL, cron, time zone, template), each with file:line and a fix.

Freemium loops, `usage` conditions, `api` triggers and `block` actions belong to the freemium
gate; the engine leaves them alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from skene_cdc.checks import Problem
from skene_cdc.config import Config
from skene_cdc.config.loops import (
    DatabaseTrigger,
    DecliningCondition,
    DormantCondition,
    EmailAction,
    EventTrigger,
    Loop,
    MilestoneCondition,
    QueryCondition,
    ScheduleTrigger,
    Step,
    StoppedCondition,
    UsageCondition,
)
from skene_cdc.errors import ConfigError
from skene_cdc.handlers.base import Event
from skene_cdc.handlers.decision import StepRef
from skene_cdc.handlers.loops.safety import QueryInfo, UnsafeQuery, inspect_query

EngineTrigger = DatabaseTrigger | ScheduleTrigger | EventTrigger
EngineCondition = (QueryCondition | DormantCondition | DecliningCondition | StoppedCondition
                   | MilestoneCondition)
Mode = Literal["schedule", "waiting", "immediate"]

BUILTIN_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class StepPlan:
    loop: Loop
    index: int  # position in loop.steps (0-based); people and the database see step.number
    trigger: EngineTrigger
    condition: EngineCondition
    action: EmailAction
    query: QueryInfo | None
    where: str  # "skene.yaml:LINE" of the step
    reader: str = "skene_reader"  # roles.reader: the role the condition is evaluated as

    @property
    def step(self) -> StepRef:
        return StepRef(self.loop.name, self.index)

    @property
    def number(self) -> int:
        return self.step.number

    @property
    def label(self) -> str:
        return self.step.label

    @property
    def mode(self) -> Mode:
        """schedule: evaluate everyone when the cron fires. waiting: the trigger enrols the user,
        who is re-evaluated on later changes until the condition holds or `within` ends.
        immediate: evaluate the triggering user once (milestones: each count is its own
        episode, there is nothing to wait for)."""
        if isinstance(self.trigger, ScheduleTrigger):
            return "schedule"
        if isinstance(self.condition, MilestoneCondition):
            return "immediate"
        return "waiting"

    @property
    def suffix(self) -> str:
        return self.step.suffix

    @property
    def timeout(self) -> timedelta:
        return self.condition.timeout if isinstance(self.condition, QueryCondition) \
            else BUILTIN_TIMEOUT

    @property
    def uses_cooldown(self) -> bool:
        return self.loop.type == "retention"

    def provider(self, config: Config) -> str:
        return self.action.provider or config.email.provider

    def triggered_by(self, event: Event) -> bool:
        if event.user_id is None:
            return False
        if isinstance(self.trigger, EventTrigger):
            return event.event == self.trigger.event
        if isinstance(self.trigger, DatabaseTrigger) and event.table_name:
            return event.op == self.trigger.event and _same_table(self.trigger.table,
                                                                 event.table_name)
        return False

    def reads(self, event: Event) -> bool:
        """Could this event change the condition's answer for its user?"""
        if event.user_id is None:
            return False
        if self.query is None:
            return event.activity  # built-ins read skene's activity rollups
        if self.query.reads_skene:
            return True
        return bool(event.table_name) and self.query.touched_by(event.table_name or "")


def _same_table(configured: str, captured: str) -> bool:
    schema, _, name = configured.lower().rpartition(".")
    cap_schema, _, cap_name = captured.lower().rpartition(".")
    return name == cap_name and (not schema or schema == cap_schema)


def _captured(config: Config, table: str) -> bool:
    names = [config.app.users.table, *(a.table for a in config.app.activity)]
    schema, _, name = table.lower().rpartition(".")
    for n in names:
        s, _, t = n.lower().rpartition(".")
        if t == name and (not schema or not s or s == schema):
            return True
    return False


def owned_by_engine(loop: Loop, step: Step) -> bool:
    return (loop.type != "freemium" and not isinstance(step.condition, UsageCondition)
            and isinstance(step.action, EmailAction)
            and isinstance(step.trigger, DatabaseTrigger | ScheduleTrigger | EventTrigger))


def plan_loops(config: Config) -> tuple[list[StepPlan], list[Problem]]:
    plans: list[StepPlan] = []
    problems: list[Problem] = []
    for li, loop in enumerate(config.loops):
        for si, step in enumerate(loop.steps):
            if not owned_by_engine(loop, step):
                continue
            assert isinstance(step.action, EmailAction)
            assert not isinstance(step.condition, UsageCondition)
            assert isinstance(step.trigger, DatabaseTrigger | ScheduleTrigger | EventTrigger)
            path = ("loops", li, "steps", si)
            label = StepRef(loop.name, si).label
            found = _step_problems(config, path, label, loop, step.trigger, step.condition,
                                   step.action)
            query: QueryInfo | None = None
            if isinstance(step.condition, QueryCondition):
                try:
                    query = inspect_query(step.condition.query)
                except UnsafeQuery as exc:
                    at = f" (line {exc.line} of the query)" if exc.line else ""
                    found.append(Problem(
                        config.where(*path, "condition", "query"),
                        f"{label}: condition query refused{at}: {exc.reason}",
                        "write one read-only SELECT (or WITH ... SELECT) that returns a user_id "
                        "or id column"))
                else:
                    if query.max_param and isinstance(step.trigger, ScheduleTrigger):
                        found.append(Problem(
                            config.where(*path, "condition", "query"),
                            f"{label}: the query uses $1 (the triggering user) but the trigger "
                            "is a schedule, which has no triggering user",
                            "remove $1 (a scheduled query returns all users to act on), or "
                            "use a database/event trigger"))
            problems.extend(found)
            if not any(p.severity == "error" for p in found):
                plans.append(StepPlan(loop, si, step.trigger, step.condition, step.action, query,
                                      config.where(*path), config.roles.reader))
    return plans, problems


def _step_problems(config: Config, path: tuple[str | int, ...], label: str, loop: Loop,
                   trigger: EngineTrigger, condition: EngineCondition,
                   action: EmailAction) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(trigger, ScheduleTrigger):
        if not croniter.is_valid(trigger.cron):
            out.append(Problem(config.where(*path, "trigger", "cron"),
                               f"{label}: {trigger.cron!r} is not a cron expression",
                               "write five fields, e.g. '0 9 * * *' for daily at 9:00"))
        try:
            ZoneInfo(trigger.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(Problem(config.where(*path, "trigger", "timezone"),
                               f"{label}: unknown time zone {trigger.timezone!r}",
                               "use an IANA name such as UTC or Europe/Berlin"))
    if isinstance(trigger, DatabaseTrigger) and not _captured(config, trigger.table):
        out.append(Problem(config.where(*path, "trigger", "table"),
                           f"{label}: the trigger table {trigger.table!r} is not captured",
                           "name app.users.table or one of app.activity's tables"))
    if action.template and action.variants:
        out.append(Problem(config.where(*path, "action"),
                           f"{label}: the action gives both template and variants",
                           "keep `variants` (each with its template and weight) or `template`"))
    elif not action.template and not action.variants:
        out.append(Problem(config.where(*path, "action"),
                           f"{label}: the email action names no template",
                           "add `template: NAME` (templates/NAME.html) or `variants`"))
    if loop.enroll != "new" and (loop.type != "activation" or isinstance(
            trigger, ScheduleTrigger)):
        out.append(Problem(config.where(*path[:2], "enroll"),
                           f"{label}: enroll: {loop.enroll} only applies to activation loops "
                           "with a database or event trigger; it is ignored here",
                           "remove `enroll`", severity="warning"))
    if isinstance(condition, DormantCondition) and config.app.users.created_at is None:
        out.append(Problem(config.where(*path, "condition"),
                           f"{label}: app.users.created_at is not set, so users who signed up "
                           "and never did anything cannot be dated and are never dormant",
                           "set app.users.created_at to the signup time column",
                           severity="warning"))
    if isinstance(condition, MilestoneCondition) and (
            sorted(set(condition.counts)) != condition.counts or min(condition.counts) < 1):
        out.append(Problem(config.where(*path, "condition", "counts"),
                           f"{label}: milestone counts must be positive and ascending",
                           "e.g. counts: [10, 100, 1000]"))
    return out


def require_plans(config: Config) -> list[StepPlan]:
    """The engine's plans, or a ConfigError listing every problem (at `listen`/`loops run`)."""
    plans, problems = plan_loops(config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError("the loops in skene.yaml cannot run:\n  "
                          + "\n  ".join(str(p) for p in errors),
                          hint="Fix them and run `skene-cdc check`")
    return plans
