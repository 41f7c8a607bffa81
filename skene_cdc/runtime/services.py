"""What the listener process runs: the services skene.yaml asks for, assembled in pipeline order.

This is the one place that knows every part of `skene-cdc listen`, so the parts (capture in
listener/, handlers/, streams/, freemium/) never import each other to be wired together."""

from __future__ import annotations

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.freemium.services import redis_services
from skene_cdc.handlers import build_handlers
from skene_cdc.handlers.email.sender import Sender
from skene_cdc.handlers.loops import loop_services
from skene_cdc.listener.consumer import EventConsumer
from skene_cdc.listener.history import retention
from skene_cdc.listener.replication import build_logical
from skene_cdc.migrations.users_watch import UsersWatch
from skene_cdc.service import Service


def build_services(url: str, config: Config) -> list[Service]:
    """In pipeline order: capture sources first, then the event consumer, then what acts on its
    results. `--once` drains them in this order."""
    services: list[Service] = []
    services.extend(build_logical(url, config))
    services.extend(redis_services(url, config))  # Redis Streams + the freemium usage stream
    services.append(build_consumer(url, config))
    services += loop_services(url, config)  # after the consumer: firings see its rollups
    services.append(Sender(url, config))
    return services


def build_consumer(url: str, config: Config) -> EventConsumer:
    return EventConsumer(url, build_handlers(config), batch_size=config.capture.batch_size,
                         poll_interval=config.capture.poll_interval.total_seconds(),
                         retention=retention(config), watch=UsersWatch(config))


def process_pending(conn: psycopg.Connection[Row], consumer: EventConsumer) -> int:
    """Bring the rollups up to date in `conn` as the listener would: every captured event not
    yet processed, batch by batch (`EventConsumer.process_batch`). Each batch is its own
    transaction, or a savepoint when the caller holds one (`loops run --dry-run` rolls it all
    back). Returns how many events; 0 also when a running listener holds the cursor (it is
    doing exactly this)."""
    with conn.transaction():
        conn.execute(sql.load("listener/ensure_cursor"), {"cursor": consumer.cursor})
    total = 0
    while n := consumer.process_batch(conn):
        total += n
        if n < consumer.batch_size:
            break
    return total


def drain_once(services: list[Service]) -> dict[str, int]:
    return {s.name: s.drain() for s in services}
