"""`skene-cdc listen`: build the services skene.yaml asks for, run each in its own thread until
SIGTERM/SIGINT, or drain them once in pipeline order with `--once`."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from skene_cdc.config import Config
from skene_cdc.freemium.services import redis_services
from skene_cdc.handlers import build_handlers
from skene_cdc.handlers.email.sender import Sender
from skene_cdc.handlers.loops import loop_services
from skene_cdc.listener.consumer import EventConsumer
from skene_cdc.listener.history import retention
from skene_cdc.listener.replication import build_logical
from skene_cdc.listener.service import Service
from skene_cdc.listener.users_watch import UsersWatch

log = logging.getLogger("skene.listener")


def build_services(url: str, config: Config) -> list[Service]:
    """In pipeline order: capture sources first, then the event consumer, then what acts on its
    results. `--once` drains them in this order."""
    services: list[Service] = []
    services.extend(build_logical(url, config))
    services.extend(redis_services(url, config))  # Redis Streams + the freemium usage stream
    services.append(EventConsumer(url, build_handlers(config),
                                  batch_size=config.capture.batch_size,
                                  poll_interval=config.capture.poll_interval.total_seconds(),
                                  retention=retention(config), watch=UsersWatch(config)))
    services += loop_services(url, config)  # after the consumer: firings see its rollups
    services.append(Sender(url, config))
    return services


def drain_once(services: list[Service]) -> dict[str, int]:
    return {s.name: s.drain() for s in services}


def run_forever(services: list[Service], stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; finishing the current batch", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=s.run, args=(stop,), name=f"skene-{s.name}")
               for s in services]
    for t in threads:
        t.start()
    log.info("listening: %s", ", ".join(s.name for s in services))
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.5)
            if not stop.is_set() and not all(t.is_alive() for t in threads):
                log.error("a service stopped unexpectedly; shutting down the others")
                stop.set()
    finally:
        stop.set()
        for t in threads:
            t.join()
    log.info("stopped")
