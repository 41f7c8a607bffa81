"""Which requests a freemium loop meters: the steps that pair an `api` trigger with a `usage`
condition and a `block` action, compiled to a method set and a path regex."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

from skene_cdc.config import Config
from skene_cdc.config.loops import ApiTrigger, BlockAction, Loop, UsageCondition
from skene_cdc.errors import ConfigError
from skene_cdc.handlers.decision import StepRef

UNLIMITED = -1


@dataclass(frozen=True)
class Rule:
    loop: str
    step: int                       # the step's index in skene.yaml (0-based), as the meter
                                    # writes it; the database sees StepRef(loop, step).number
    methods: frozenset[str] | None  # None: every method
    endpoint: str
    pattern: re.Pattern[str]
    free_limit: int                 # UNLIMITED (-1) for .inf
    paid_limit: int
    period: int                     # seconds; 0 = monthly
    message: str
    upgrade_url: str | None
    fail_open: bool
    where: str

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method.upper() in self.methods) and \
            self.pattern.fullmatch(path) is not None

    def event_name(self, method: str, path: str) -> str:
        return f"api:{method.upper()} {path}"


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """`*` matches within one path segment, `**` across segments, `?` one character.
    `/api/features/*` matches `/api/features/x` but not `/api/features/x/y` nor `/api/features`."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def _limit(value: float, where: str) -> int:
    if math.isinf(value) and value > 0:
        return UNLIMITED
    if value < 0 or math.isnan(value):
        raise ConfigError(f"a usage limit must be a number >= 0 or .inf, not {value}", where=where)
    return int(value)


def _methods(method: str) -> frozenset[str] | None:
    names = {m.strip().upper() for m in method.split(",") if m.strip()}
    return None if not names or names & {"*", "ANY"} else frozenset(names)


def loop_rules(config: Config, loop: Loop, index: int) -> list[Rule]:
    rules = []
    for s, step in enumerate(loop.steps):
        trig, cond, act = step.trigger, step.condition, step.action
        if not (isinstance(trig, ApiTrigger) and isinstance(cond, UsageCondition)):
            continue
        where = config.where("loops", index, "steps", s)
        if not isinstance(act, BlockAction):
            raise ConfigError(f"{StepRef(loop.name, s).label}: an api trigger with a usage "
                              "condition needs `action: {type: block, message: ...}`", where=where)
        period = 0 if cond.period == "month" else int(_seconds(cond.period))
        rules.append(Rule(
            loop=loop.name, step=s, methods=_methods(trig.method), endpoint=trig.endpoint,
            pattern=glob_to_regex(trig.endpoint),
            free_limit=_limit(cond.limit.free, where), paid_limit=_limit(cond.limit.paid, where),
            period=period, message=act.message, upgrade_url=act.upgrade_url,
            fail_open=act.fail_open, where=where))
    return rules


def _seconds(period: timedelta | str) -> float:
    assert isinstance(period, timedelta)
    return period.total_seconds()


def build_rules(config: Config, loops: list[str] | None = None) -> list[Rule]:
    """Every metered step of the config's loops (or of the named ones)."""
    rules: list[Rule] = []
    for i, loop in enumerate(config.loops):
        if loops is None or loop.name in loops:
            rules.extend(loop_rules(config, loop, i))
    return rules


def find_rule(config: Config, loop: str, step: int) -> tuple[Loop, Rule] | None:
    for i, lp in enumerate(config.loops):
        if lp.name == loop:
            for rule in loop_rules(config, lp, i):
                if rule.step == step:
                    return lp, rule
    return None
