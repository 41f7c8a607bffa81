"""The gate every middleware shares: match a request to the metered loops, count it in Redis,
and answer 402 past the limit (or 503 when Redis is down and the loop says fail closed).

Framework adapters (asgi.py, wsgi.py, django.py) only translate requests and responses."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from skene_cdc.config import Config, load_config
from skene_cdc.errors import ConfigError, first_line
from skene_cdc.freemium import plans
from skene_cdc.freemium.meter import Decision, Meter, counter_prefix, limit_for_json, redis_config
from skene_cdc.freemium.rules import Rule, build_rules

log = logging.getLogger("skene.freemium")
WARN_EVERY = 60.0  # seconds between "Redis unreachable" log lines


@dataclass(frozen=True)
class Verdict:
    """A response that replaces the app's: 402 past the limit, 503 when failing closed."""

    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]] = field(default_factory=list)

    def content(self) -> bytes:
        return json.dumps(self.body).encode()

    def all_headers(self) -> list[tuple[str, str]]:
        body = self.content()
        return [("content-type", "application/json"), ("content-length", str(len(body))),
                *self.headers]


class _Throttled:
    """Log a warning at most once per interval, counting what was suppressed."""

    def __init__(self, every: float) -> None:
        self.every, self.last, self.suppressed = every, -math.inf, 0
        self.lock = threading.Lock()

    def warn(self, msg: str, *args: object) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.every:
                self.suppressed += 1
                return
            n, self.suppressed, self.last = self.suppressed, 0, now
        log.warning(msg + (f" ({n} more since the last report)" if n else ""), *args)


class Gate:
    def __init__(self, rules: list[Rule], meter: Meter, *, database_url: str | None = None,
                 fail_open: bool | None = None) -> None:
        self.rules = rules
        self.meter = meter
        self.database_url = database_url
        self.fail_open = fail_open  # overrides every rule's own setting when not None
        self._warn = _Throttled(WARN_EVERY)

    @classmethod
    def from_config(cls, config: Config | str | os.PathLike[str], *, redis_url: str | None = None,
                    database_url: str | None = None, fail_open: bool | None = None,
                    loops: list[str] | None = None) -> Gate:
        """`database_url` (default: $DATABASE_URL) lets the gate read skene.user_plans when a
        user about to be blocked has no plan cached in Redis."""
        cfg = config if isinstance(config, Config) else load_config(Path(config))
        rules = build_rules(cfg, loops)
        if not rules:
            raise ConfigError("no loop meters API requests (a step with `trigger: {type: api}`, "
                              "`condition: {type: usage}` and `action: {type: block}`)",
                              where=cfg.source, hint="Add a freemium loop; see docs/freemium.md")
        rcfg = redis_config(cfg)
        meter = Meter(redis_url or rcfg.url, prefix=rcfg.key_prefix,
                      timeout=rcfg.timeout.total_seconds())
        return cls(rules, meter, database_url=database_url or os.environ.get("DATABASE_URL"),
                   fail_open=fail_open)

    def match(self, method: str, path: str) -> list[Rule]:
        return [r for r in self.rules if r.matches(method, path)]

    # -- sync (WSGI, Django) ------------------------------------------------------------------

    def check(self, user_id: str, method: str, path: str,
              rules: list[Rule] | None = None) -> Verdict | None:
        """None: let the request through untouched. Every matching rule counts the request."""
        event = f"api:{method.upper()} {path}"
        for rule in self.match(method, path) if rules is None else rules:
            try:
                decision = self.meter.check(rule, user_id, event, resolve=self._can_resolve)
                if decision.need_plan:
                    self._resolve_plan(user_id)
                    decision = self.meter.check(rule, user_id, event)
            except redis.RedisError as exc:
                verdict = self._unavailable(rule, exc)
            else:
                verdict = self._verdict(rule, decision, user_id)
            if verdict is not None:
                return verdict
        return None

    # -- async (ASGI) -------------------------------------------------------------------------

    async def acheck(self, user_id: str, method: str, path: str,
                     rules: list[Rule] | None = None) -> Verdict | None:
        event = f"api:{method.upper()} {path}"
        for rule in self.match(method, path) if rules is None else rules:
            try:
                decision = await self.meter.acheck(rule, user_id, event,
                                                   resolve=self._can_resolve)
                if decision.need_plan:
                    await asyncio.to_thread(self._resolve_plan, user_id)
                    decision = await self.meter.acheck(rule, user_id, event)
            except redis.RedisError as exc:
                verdict = self._unavailable(rule, exc)
            else:
                verdict = self._verdict(rule, decision, user_id)
            if verdict is not None:
                return verdict
        return None

    # -- decisions ----------------------------------------------------------------------------

    @property
    def _can_resolve(self) -> bool:
        return self.database_url is not None

    def _resolve_plan(self, user_id: str) -> None:
        assert self.database_url is not None
        try:
            plans.fill_from_database(self.database_url, self.meter.redis, self.meter.prefix,
                                     user_id)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL down must not fail the request
            self._warn.warn("freemium: could not read user %s's plan from PostgreSQL (%s); "
                            "counting as free", user_id, type(exc).__name__)
            plans.write_plan(self.meter.redis, self.meter.prefix, user_id, "free", None, None,
                             ttl=60)

    def _verdict(self, rule: Rule, d: Decision, user_id: str) -> Verdict | None:
        counter = f"{counter_prefix(self.meter.prefix, rule, user_id)}:{d.window_start}"
        if d.corrupt:
            # Someone wrote something that is not a count into skene's counter: it cannot be
            # trusted either way, so the loop's fail_open decides, as when Redis is down.
            return self._undecidable(rule, f"the usage counter {counter} does not hold a "
                                           "request count; delete that key to start it again")
        if d.note == "saturated":
            self._warn.warn("freemium: the usage counter %s is at %s, too large to count on; "
                            "decided by the limit without counting", counter, d.used)
        if d.allowed:
            return None
        retry = max(1, math.ceil(d.window_end - time.time()))
        body = {"error": rule.message, "upgrade_url": rule.upgrade_url,
                "limit": limit_for_json(d.limit), "used": d.used, "resets_at": d.resets_at}
        return Verdict(402, body, [("retry-after", str(retry))])

    def _unavailable(self, rule: Rule, exc: Exception) -> Verdict | None:
        reason = first_line(exc)
        if isinstance(exc, redis.ResponseError):
            # Redis answered: the script failed, which is not Redis being unreachable.
            return self._undecidable(rule, f"the usage script failed in Redis ({reason})")
        return self._undecidable(rule, f"Redis unreachable ({reason})")

    def _undecidable(self, rule: Rule, what: str) -> Verdict | None:
        """No trustworthy count: fail_open lets the request through uncounted, else 503."""
        fail_open = rule.fail_open if self.fail_open is None else self.fail_open
        if fail_open:
            self._warn.warn("freemium: %s; letting requests through uncounted (fail_open)", what)
            return None
        self._warn.warn("freemium: %s; answering 503 (fail_open: false)", what)
        return Verdict(503, {"error": "Usage limits cannot be checked right now; "
                                      "try again shortly."}, [("retry-after", "5")])

    def close(self) -> None:
        self.meter.close()
