"""What the demo prints: numbered progress lines, section headings, the funnels table, and the
next commands. Plain text when stdout is not a terminal (rich drops the styling)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from skene_cdc import sql
from skene_cdc.db import connect


@dataclass
class StepLine:
    text: str = ""

    def done(self, text: str) -> None:
        self.text = text


@dataclass
class Output:
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    n: int = 0
    started: float = field(default_factory=time.monotonic)

    def banner(self) -> None:
        self.console.print("[bold]skene-cdc demo[/]: a sample app on a throwaway PostgreSQL, "
                           "a month of simulated users, the loops' emails and funnels. "
                           "Ctrl-C stops it and cleans up.\n")

    def line(self, text: str) -> None:
        self.n += 1
        self.console.print(f"[cyan]{self.n:>2}[/] {text}")

    @contextmanager
    def step(self, text: str) -> Iterator[StepLine]:
        """A line printed when the step finishes, with its duration: `text: result (1.2s)`."""
        t0 = time.monotonic()
        line = StepLine()
        yield line
        took = time.monotonic() - t0
        self.line(f"{text}: {line.text or 'done'} [dim]({took:.1f}s)[/]")

    def section(self, text: str) -> None:
        self.console.print(f"\n[bold]== {text}[/]")

    def capture_summary(self, url: str) -> None:
        with connect(url, autocommit=True) as conn:
            row = conn.execute(sql.load("demo/counts")).fetchone() or {}
        self.line(f"Captured {row.get('events')} events into skene.events; skene.users shows "
                  f"{row.get('users')} users: {row.get('active')} active this week, "
                  f"{row.get('dormant')} dormant for 7+ days")

    def funnels(self, url: str) -> None:
        with connect(url, autocommit=True) as conn:
            rows = conn.execute(sql.load("queries/status_loops")).fetchall()
        self.console.print()
        if not rows:
            self.console.print("[bold]Loop funnels[/]: no enrolments yet")
            return
        table = Table(title="Loop funnels (skene.enrolments)", title_justify="left",
                      title_style="bold")
        for col in ("loop", "enrolled", "waiting", "sent", "converted", "conversion"):
            table.add_column(col, justify="left" if col == "loop" else "right")
        for r in rows:
            pct = "-" if r["conversion_pct"] is None else f"{r['conversion_pct']}%"
            table.add_row(str(r["loop"]), str(r["enrolled"]), str(r["waiting"]), str(r["sent"]),
                          str(r["converted"]), pct)
        self.console.print(table)

    def keep_open(self, url: str, workdir: Path | None) -> None:
        self.console.print(f"\nThe demo database stays up until Ctrl-C:\n"
                           f"  psql {url}\n"
                           f"  DATABASE_URL={url} SKENE_CONFIG={workdir}/skene.yaml "
                           f"skene-cdc status")

    def cleaned(self, what: list[str]) -> None:
        self.console.print(f"\nCleaned up: {'; '.join(what)}.")

    def next_steps(self) -> None:
        took = time.monotonic() - self.started
        self.console.print(
            f"\nDemo finished in {took:.0f}s. Next, on your own app's database:\n"
            "  export DATABASE_URL=postgresql://app@localhost/app\n"
            "  skene-cdc init       # reads your schema, writes skene.yaml and starter templates\n"
            "  skene-cdc check      # every problem in one run, each with its fix\n"
            "  skene-cdc migrate    # installs schema skene and the capture triggers\n"
            "  skene-cdc listen     # captures, runs the loops, sends the emails\n"
            "Then `skene-cdc status` and `skene-cdc report` show what the loops do.")
