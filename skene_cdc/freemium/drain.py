"""The listener side of the gate: the usage stream the meter writes, drained into PostgreSQL.

Counted requests become skene.events rows (source 'api', activity true, event
'api:POST /api/features/x'); blocked ones become 'freemium.blocked' events, and the first block of
a period puts one upgrade email in the outbox and one row in skene.enrolments, in the same
transaction. The unique keys of skene.enrolments (loop, user, episode) and of the outbox (loop,
user, step, episode), with the period's start as the episode, make it once per period even if
Redis or the listener repeats itself."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.loops import BlockAction
from skene_cdc.db import Row, jsonable
from skene_cdc.freemium import plans
from skene_cdc.freemium.meter import iso, redis_config, usage_stream
from skene_cdc.freemium.rules import UNLIMITED, build_rules, find_rule
from skene_cdc.handlers import outbox
from skene_cdc.handlers.decision import (
    NO_ADDRESS,
    StepRef,
    delivery_context,
    pick_variant,
)
from skene_cdc.streams.consumer import Entry, StreamConsumer
from skene_cdc.streams.profiles import redis_profile
from skene_cdc.streams.source import EventRow, insert_events

log = logging.getLogger("skene.freemium")
BLOCKED_EVENT = "freemium.blocked"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _int(fields: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(float(fields.get(key, default)))
    except ValueError:
        return default


class UsageSink:
    def __init__(self, config: Config, profiles: redis.Redis | None = None) -> None:
        self.config = config
        self.profiles = profiles  # set when app.users.redis_hash is configured
        self._endpoints: dict[tuple[str, int], str | None] = {}

    def endpoint(self, loop: str, step: int) -> str | None:
        """The step's endpoint glob: events are named by the concrete path, so this groups them."""
        key = (loop, step)
        if key not in self._endpoints:
            found = find_rule(self.config, loop, step)
            self._endpoints[key] = found[1].endpoint if found else None
        return self._endpoints[key]

    def write(self, conn: psycopg.Connection[Row], stream: str, entries: Sequence[Entry]) -> int:
        rows: list[EventRow] = []
        # (loop, step index, user, window) -> first blocked entry, its time, the highest count
        blocks: dict[tuple[str, int, str, int], tuple[dict[str, str], datetime, int]] = {}
        for entry_id, f in entries:
            at = datetime.fromtimestamp(_int(f, "t") / 1000, UTC)
            blocked = f.get("k") == "b"
            data: dict[str, Any] = {
                # the meter writes the step's index; events show its number, like every table
                "loop": f.get("l"), "step": StepRef(f.get("l", ""), max(_int(f, "s"), 0)).number,
                "endpoint": self.endpoint(f.get("l", ""), _int(f, "s")), "plan": f.get("p"),
                "used": _int(f, "n"), "limit": None if _int(f, "L") == UNLIMITED else _int(f, "L"),
                "window_start": iso(_int(f, "ws")), "window_end": iso(_int(f, "we"))}
            if blocked:
                data["request"] = f.get("e")
                data["blocked"] = _int(f, "b")
                key = (f.get("l", ""), _int(f, "s"), f.get("u", ""), _int(f, "ws"))
                first, first_at, most = blocks.get(key, (f, at, 0))
                blocks[key] = (first, first_at, max(most, _int(f, "b")))
            rows.append(EventRow(
                user_id=f.get("u") or None, event=BLOCKED_EVENT if blocked else f.get("e", "api"),
                activity=not blocked, occurred_at=at, data=data,
                external_id=f"{stream}:{entry_id}"))
        new = insert_events(conn, "api", None, rows)
        for (loop, index, user_id, _), (f, at, count) in blocks.items():
            if user_id:
                episode = self.prompt(conn, loop, index, user_id, f, at)
                if episode is not None:
                    conn.execute(sql.load("freemium/count_blocked"), {
                        "loop": loop, "user_id": user_id, "episode": episode,
                        "blocked": count})
        return new

    def prompt(self, conn: psycopg.Connection[Row], loop_name: str, index: int, user_id: str,
               f: dict[str, str], blocked_at: datetime) -> str | None:
        """Record the period's first block (and enqueue the upgrade email); return the episode,
        or None when skene.yaml no longer has the step. `index` is the step's position in
        skene.yaml, as the meter writes it; the database sees StepRef.number like every loop."""
        found = find_rule(self.config, loop_name, index)
        if found is None:
            log.warning("freemium: a blocked request names loop %r, step index %d, which "
                        "skene.yaml no longer has; no upgrade prompt", loop_name, index)
            return None
        step = StepRef(loop_name, index)
        loop, _ = found
        action = loop.steps[index].action
        assert isinstance(action, BlockAction)
        episode = step.episode(iso(_int(f, "ws")))
        usage = {"event": BLOCKED_EVENT, "loop": loop_name, "request": f.get("e"),
                 "used": _int(f, "n"), "limit": _int(f, "L"), "plan": f.get("p"),
                 "period_start": iso(_int(f, "ws")), "resets_at": iso(_int(f, "we")),
                 "message": action.message, "upgrade_url": action.upgrade_url}
        prompt = action.upgrade_prompt
        chosen = pick_variant(loop_name, user_id, prompt.variants) if prompt else None
        sent_at = datetime.now(UTC) if prompt else None
        # The funnel row first: when it exists this period is handled, and later batches of
        # blocked requests cost one conflicting insert, not a profile lookup.
        enrolled = conn.execute(sql.load("freemium/enrol_prompt"), {
            "loop": loop_name, "step": step.number, "user_id": user_id, "episode": episode,
            "variant": chosen.template if chosen else None,
            "state": "sent" if prompt else "met",
            "blocked_at": blocked_at, "sent_at": sent_at,
            "expires_at": (sent_at or blocked_at) + self.conversion_window(),
            "context": Jsonb(usage)}).fetchone()
        if enrolled is None or prompt is None:
            return episode
        user, known = self.profile(conn, user_id)
        address = user.get("email")
        if not address:
            # As for every loop (docs/loops.md): no address, no delivery; the enrolment says why.
            why = NO_ADDRESS if known else (
                f"{NO_ADDRESS}: user {user_id} is not in {self.config.app.users.table}")
            conn.execute(sql.load("freemium/prompt_failed"), {"id": enrolled["id"],
                                                             "error": why})
            log.warning("freemium: %s: no upgrade prompt for user %s: %s", step.label, user_id,
                        why)
            return episode
        template = chosen.template if chosen else prompt.template or ""
        outbox.enqueue(
            conn, step=step, user_id=user_id, episode=episode,
            provider=prompt.provider or self.config.email.provider, template=template,
            to_address=str(address),
            context=delivery_context(step, loop, user=user, event=usage,
                                     personalization=prompt.personalization, episode=episode,
                                     variant=chosen.template if chosen else None),
            recovery=loop.recovery, variant=chosen.template if chosen else None)
        return episode

    def conversion_window(self) -> timedelta:
        return self.config.stripe.conversion_window if self.config.stripe else timedelta(days=30)

    def profile(self, conn: psycopg.Connection[Row], user_id: str) -> tuple[dict[str, Any], bool]:
        """(the user's skene.users row, completed from the Redis profile hash when configured;
        whether the users table has the user at all)."""
        row = conn.execute(sql.load("freemium/user_profile"), {"user_id": user_id}).fetchone()
        user: dict[str, Any] = jsonable(row or {})
        known = row is not None
        if self.profiles is not None and not user.get("email"):
            try:
                hashed = redis_profile(self.config, self.profiles, user_id)
            except redis.RedisError as exc:
                log.warning("freemium: could not read user %s's profile hash: %s", user_id, exc)
            else:
                known = known or bool(hashed)
                user = {**hashed, **{k: v for k, v in user.items() if v is not None}}
        user.setdefault("user_id", user_id)
        return user, known



class UsageDrain(StreamConsumer):
    """The usage stream -> PostgreSQL, plus the plan cache kept in step with skene.user_plans."""

    def __init__(self, url: str, config: Config) -> None:
        rc = redis_config(config)
        self.config = config
        self.prefix = rc.key_prefix
        profiles = (redis.Redis.from_url(rc.url, decode_responses=True, socket_timeout=5)
                    if config.app.users.redis_hash else None)
        super().__init__(name="freemium", url=url, redis_url=rc.url,
                         stream=usage_stream(rc.key_prefix), group="skene",
                         sink=UsageSink(config, profiles), consumer=rc.consumer,
                         batch_size=rc.batch_size, claim_after=rc.claim_after.total_seconds(),
                         delete_acked=True)
        self.plans_since = EPOCH
        self.plans_synced = 0

    def on_connect(self, conn: psycopg.Connection[Row], r: redis.Redis) -> None:
        # (Re)connected: Redis may have restarted empty, so copy every plan again.
        self.plans_since = EPOCH
        self.sync(conn, r)

    def idle(self, conn: psycopg.Connection[Row], r: redis.Redis) -> None:
        self.sync(conn, r)

    def sync(self, conn: psycopg.Connection[Row], r: redis.Redis) -> None:
        with conn.transaction():
            n, self.plans_since = plans.sync_plans(conn, r, self.prefix, self.plans_since)
        self.plans_synced += n

    def drain(self) -> int:
        done = super().drain()
        with self._redis() as r, psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as c:
            self.sync(c, r)
        return done


def usage_services(url: str, config: Config) -> list[StreamConsumer]:
    if not build_rules(config):
        return []
    return [UsageDrain(url, config)]
