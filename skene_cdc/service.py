"""The shape every part of `skene-cdc listen` has, and the reconnect loop they share."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Protocol

import psycopg

from skene_cdc.errors import SkeneError, first_line

log = logging.getLogger("skene.listener")


class Service(Protocol):
    name: str

    def drain(self) -> int:
        """Do everything pending and due now; return how many items were done (`--once`)."""
        ...

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; survive lost connections."""
        ...


def run_with_reconnect(name: str, body: Callable[[], None], stop: threading.Event,
                       max_delay: float = 30.0) -> None:
    """Run `body` until stop; on a lost connection log, back off (jittered), and run it again."""
    delay = 0.5
    while not stop.is_set():
        try:
            body()
            delay = 0.5
        except (psycopg.OperationalError, psycopg.InterfaceError, SkeneError) as exc:
            if stop.is_set():
                return
            reason = first_line(exc)
            log.warning("%s: connection lost (%s); retrying in %.1fs", name, reason, delay)
            stop.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_delay)
