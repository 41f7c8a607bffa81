"""Usage metering in Redis: one Lua script checks the user's plan, finds the window, counts (or
refuses) and queues the event for PostgreSQL, atomically and in one round trip."""

from __future__ import annotations

import asyncio
import hashlib
import os
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from skene_cdc.config import Config
from skene_cdc.config.models import Redis as RedisConfig
from skene_cdc.freemium import fastpath
from skene_cdc.freemium.rules import UNLIMITED, Rule

LUA = resources.files(__package__).joinpath("meter.lua").read_text("utf-8")
LUA_SHA = hashlib.sha1(LUA.encode()).hexdigest()
# Counters outlive their window by a day, so a late drain or a status query still sees them.
KEEP_AFTER_WINDOW = 86400


def redis_config(config: Config) -> RedisConfig:
    """skene.yaml's `redis:`, or (when the gate is used without one) $REDIS_URL's defaults."""
    if config.redis is not None:
        return config.redis
    return RedisConfig(url=os.environ.get("REDIS_URL", RedisConfig().url))


def plan_key(prefix: str, user_id: str) -> str:
    return f"{prefix}plan:{user_id}"


def usage_stream(prefix: str) -> str:
    return f"{prefix}usage"


def counter_prefix(prefix: str, rule: Rule, user_id: str) -> str:
    return f"{prefix}usage:{rule.loop}:{rule.step}:{user_id}"


def iso(epoch: int | float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    need_plan: bool       # would block, but the plan is not in Redis: nothing was changed
    used: int
    limit: int            # UNLIMITED (-1) for .inf
    window_start: int     # epoch seconds
    window_end: int
    plan_known: bool      # False: no plan in Redis, counted as free
    blocked: int          # blocked requests in this window so far (0 when allowed)
    # 'corrupt': the counter is not a count (nothing changed; decide as if Redis were down).
    # 'saturated': the counter is too large to count on; not incremented, decided by the limit.
    note: str = ""

    @property
    def resets_at(self) -> str:
        return iso(self.window_end)

    @property
    def episode(self) -> str:
        """The period as the outbox/enrolment episode: its start, ISO 8601 UTC."""
        return iso(self.window_start)

    @property
    def corrupt(self) -> bool:
        return self.note == "corrupt"

    @classmethod
    def from_reply(cls, reply: list[Any]) -> Decision:
        a, used, limit, ws, we, known, blocked = (int(x) for x in reply[:7])
        note = str(reply[7]) if len(reply) > 7 else ""
        return cls(a == 1, a == 2, used, limit, ws, we, bool(known), blocked, note)


def client(url: str, timeout: float) -> redis.Redis:
    """A client for the request path. redis-py's default retries ten times with backoff, which
    would hold every request for seconds while Redis is down; one immediate retry on a dropped
    connection (a pooled socket Redis closed when it restarted) is enough. Never on a timeout:
    the script may have run, and counting twice is worse than failing open once."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                decode_responses=True,
                                retry=Retry(NoBackoff(), 1, (redis.ConnectionError,)))


def async_client(url: str, timeout: float) -> aredis.Redis:
    return aredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                 decode_responses=True,
                                 retry=AsyncRetry(NoBackoff(), 1, (redis.ConnectionError,)))


class Meter:
    """Thread-safe (sync) and event-loop-safe (async) access to the script. An asyncio Redis
    connection belongs to the loop that made it, so there is one async client per loop."""

    def __init__(self, url: str, *, prefix: str = "skene:", timeout: float = 0.25) -> None:
        self.url, self.prefix, self.timeout = url, prefix, timeout
        self.redis = client(url, timeout)
        self._script = self.redis.register_script(LUA)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = \
            weakref.WeakKeyDictionary()
        self.stream = usage_stream(prefix)

    def _args(self, rule: Rule, user_id: str, event: str, now_ms: int,
              resolve: bool) -> tuple[list[str], list[Any]]:
        keys = [plan_key(self.prefix, user_id), self.stream]
        args = [counter_prefix(self.prefix, rule, user_id), rule.free_limit, rule.paid_limit,
                rule.period, event, rule.loop, rule.step, user_id, now_ms, KEEP_AFTER_WINDOW,
                int(resolve)]
        return keys, args

    def check(self, rule: Rule, user_id: str, event: str, *, now_ms: int = 0,
              resolve: bool = False) -> Decision:
        """Count this request, or refuse it. `resolve`: see Decision.need_plan."""
        keys, args = self._args(rule, user_id, event, now_ms, resolve)
        return Decision.from_reply(self._script(keys=keys, args=args))

    async def acheck(self, rule: Rule, user_id: str, event: str, *, now_ms: int = 0,
                     resolve: bool = False) -> Decision:
        keys, args = self._args(rule, user_id, event, now_ms, resolve)
        script = self._async_script()
        return Decision.from_reply(await script(keys=keys, args=args))

    def _async_script(self) -> Any:
        loop = asyncio.get_running_loop()
        script = self._async.get(loop)
        if script is None:
            if fastpath.supported(self.url):
                script = fastpath.PipelinedScript(self.url, LUA, LUA_SHA, self.timeout)
            else:
                script = async_client(self.url, self.timeout).register_script(LUA)
            self._async[loop] = script
        return script

    def used(self, rule: Rule, user_id: str, window_start: int) -> int:
        value = self.redis.get(f"{counter_prefix(self.prefix, rule, user_id)}:{window_start}")
        return int(str(value)) if value is not None else 0

    def close(self) -> None:
        self.redis.close()


def limit_for_json(limit: int) -> int | None:
    return None if limit == UNLIMITED else limit
