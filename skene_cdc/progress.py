"""Progress for long operations (backfills, enrolling existing users, migrate on big tables).

On a terminal: a rich progress bar with counts, rate and ETA. Anywhere else (CI logs, pipes,
`docker logs`): plain lines, one every few seconds and one at the end, so logs stay readable and
greppable. Progress goes to stderr so stdout stays clean for results (`--json`, `--sql`).

Usage::

    with progress("backfill public.user_actions", total=n, unit="rows") as bar:
        for batch in batches:
            ...
            bar.advance(len(batch))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Tracker(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def update(self, *, completed: int | None = None, total: int | None = None,
               note: str | None = None) -> None: ...


class _RichTracker:
    def __init__(self, bar: Progress, task: TaskID, label: str) -> None:
        self._bar, self._task, self._label = bar, task, label

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def update(self, *, completed: int | None = None, total: int | None = None,
               note: str | None = None) -> None:
        desc = None if note is None else (f"{self._label} ({note})" if note else self._label)
        self._bar.update(self._task, completed=completed, total=total, description=desc)


class PlainTracker:
    """Lines like `backfill public.x: 5,000/20,000 rows (25%), 4,100 rows/s, ETA 4s`."""

    def __init__(self, label: str, total: int | None, unit: str, stream: TextIO,
                 every: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit, self.stream = label, total, unit, stream
        self.completed = 0
        self.note: str | None = None
        self._every, self._clock = every, clock
        self._start = self._last = clock()

    def advance(self, n: int = 1) -> None:
        self.completed += n
        if self._clock() - self._last >= self._every:
            self.emit()

    def update(self, *, completed: int | None = None, total: int | None = None,
               note: str | None = None) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note or None

    def line(self, final: bool = False) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.completed / elapsed
        parts = [f"{self.completed:,}"]
        if self.total:
            parts = [f"{self.completed:,}/{self.total:,} {self.unit} "
                     f"({min(100, 100 * self.completed // max(self.total, 1))}%)"]
        else:
            parts[0] += f" {self.unit}"
        if final:
            parts.append(f"done in {_duration(elapsed)}")
        else:
            parts.append(f"{rate:,.0f} {self.unit}/s")
            if self.total and rate > 0 and self.completed < self.total:
                parts.append(f"ETA {_duration((self.total - self.completed) / rate)}")
        note = f" [{self.note}]" if self.note else ""
        return f"{self.label}: {', '.join(parts)}{note}"

    def emit(self, final: bool = False) -> None:
        self._last = self._clock()
        print(self.line(final), file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def is_interactive(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(label: str, total: int | None = None, *, unit: str = "rows",
             stream: TextIO | None = None, interactive: bool | None = None,
             every: float = 5.0) -> Iterator[Tracker]:
    """A progress display for one operation. `interactive` forces the rich bar (True) or plain
    lines (False); by default the bar is used only when `stream` (stderr) is a terminal."""
    out = stream or sys.stderr
    if interactive is None:
        interactive = is_interactive(out)
    if not interactive:
        plain = PlainTracker(label, total, unit, out, every=every)
        plain.emit()
        try:
            yield plain
        finally:
            plain.emit(final=True)
        return
    # rich is imported here: it costs every CLI start ~0.1 s and is only needed on a terminal.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=out, force_terminal=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(unit), TextColumn("•"), TimeElapsedColumn(), TextColumn("ETA"),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield _RichTracker(bar, task, label)


class StepProgress:
    """A `capture.StepCallback` that shows a bar once the number of steps is known (the callback
    learns it on the first call); nothing at all when there is nothing to do."""

    def __init__(self, label: str, *, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self.label, self._stream, self._interactive = label, stream, interactive
        self._stack = ExitStack()
        self._bar: Tracker | None = None

    def __call__(self, done: int, total: int, note: str) -> None:
        if self._bar is None:
            if total == 0:
                return
            self._bar = self._stack.enter_context(progress(
                self.label, total, unit="steps", stream=self._stream,
                interactive=self._interactive))
        self._bar.update(completed=done, note=note)

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
