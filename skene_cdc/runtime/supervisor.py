"""Run the listener process's services (runtime/services.py builds them), each in its own thread,
until SIGTERM/SIGINT, rebuilding them when skene.yaml changes or on SIGHUP."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from skene_cdc.config import Config, load_config
from skene_cdc.errors import SkeneError, first_line
from skene_cdc.listener.control import UNINSTALL, ControlChannel
from skene_cdc.service import Service

log = logging.getLogger("skene.listener")


@dataclass(frozen=True)
class Reload:
    """Where skene.yaml is and how to build the services from it: a running `listen` reloads on
    SIGHUP and when the file changes, and refuses (keeping what runs) a file that does not load
    or whose services cannot be built."""

    path: Path
    build: Callable[[Config], list[Service]]


class _FileWatch:
    """Has the file's content changed? (mtime and size first, then the bytes: an editor that
    rewrites the same text, or a `touch`, is not a change.)"""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stat, self.digest = self._read()

    def _read(self) -> tuple[tuple[int, int] | None, str | None]:
        try:
            st = self.path.stat()
            return (st.st_mtime_ns, st.st_size), hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None, None

    def changed(self) -> bool:
        try:
            st = self.path.stat()
            stat: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stat = None
        if stat == self.stat:
            return False
        old = self.digest
        self.stat, self.digest = self._read()
        return self.digest != old and self.digest is not None


def run_forever(services: list[Service], stop: threading.Event | None = None, *,
                reload: Reload | None = None, control: ControlChannel | None = None) -> bool:
    """Run each service in its own thread until SIGTERM/SIGINT (or `stop`). With `reload`, a
    SIGHUP or a change of skene.yaml rebuilds the services on the new file; with `control`,
    `skene-cdc uninstall` (or schema skene vanishing) stops everything with one line. Returns
    False when a service stopped by itself (the caller exits non-zero, so a supervisor restarts
    it and an operator sees it)."""
    stop = stop or threading.Event()
    hup = threading.Event()
    failed = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            hup.set()
            return
        log.info("received %s; finishing the current batch", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if reload is not None:
            signal.signal(signal.SIGHUP, on_signal)
    watch = _FileWatch(reload.path) if reload is not None else None
    log.info("listening: %s", ", ".join(s.name for s in services))
    try:
        while True:
            generation = threading.Event()
            threads = [threading.Thread(target=_guarded, args=(s, generation),
                                        name=f"skene-{s.name}") for s in services]
            for t in threads:
                t.start()
            try:
                replacement = _supervise(threads, stop, hup, reload, watch, control, failed)
            finally:
                generation.set()
                for t in threads:
                    t.join()
            if replacement is None or stop.is_set():
                break
            services = replacement
            log.info("running: %s", ", ".join(s.name for s in services))
    finally:
        if control is not None:
            control.close()
    log.info("stopped")
    return not failed.is_set()


def _guarded(service: Service, stop: threading.Event) -> None:
    """A service that dies says why in one line (the traceback only with SKENE_DEBUG=1)."""
    try:
        service.run(stop)
    except Exception as exc:
        log.error("%s: stopped by an error: %s: %s", service.name, type(exc).__name__,
                  first_line(exc), exc_info=bool(os.environ.get("SKENE_DEBUG")))


def _supervise(threads: list[threading.Thread], stop: threading.Event, hup: threading.Event,
               reload: Reload | None, watch: _FileWatch | None,
               control: ControlChannel | None, failed: threading.Event) -> list[Service] | None:
    """Watch the running generation; return the services to restart with (a reload), or None
    to stop."""
    while not stop.is_set():
        if control is not None and control.wait(0.5) == UNINSTALL:
            log.info("skene-cdc uninstall is removing skene from this database; stopping")
            stop.set()
            break
        if control is None:
            stop.wait(0.5)
        if not all(t.is_alive() for t in threads):
            if not stop.is_set():
                dead = ", ".join(t.name for t in threads if not t.is_alive())
                log.error("%s stopped unexpectedly; shutting down the others", dead)
                failed.set()
                stop.set()
            break
        if reload is not None and watch is not None and (hup.is_set() or watch.changed()):
            why = "SIGHUP" if hup.is_set() else f"{reload.path.name} changed"
            hup.clear()
            rebuilt = _rebuild(reload, why)
            if rebuilt is not None:
                return rebuilt
    return None


def _rebuild(reload: Reload, why: str) -> list[Service] | None:
    try:
        services = reload.build(load_config(reload.path))
    except SkeneError as exc:
        log.error("%s: %s is not valid; not reloaded, keeping the running config: %s", why,
                  reload.path, exc)
        return None
    except Exception:  # noqa: BLE001 - a bad reload must not take the running listener down
        log.exception("%s: not reloaded, keeping the running config (this is unexpected)", why)
        return None
    log.info("%s: reloaded %s", why, reload.path)
    return services
