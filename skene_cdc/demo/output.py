"""What the demo prints: numbered progress lines, section headings, the funnels table, and the
next commands. Plain text when stdout is not a terminal (rich drops the styling)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skene_cdc import sql
from skene_cdc.db import connect
from skene_cdc.handlers.email.providers import Message
from skene_cdc.handlers.loops.report import funnel_rows


def _strip_tags(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


@dataclass
class StepLine:
    text: str = ""

    def done(self, text: str) -> None:
        self.text = text


@dataclass
class Output:
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    n: int = 0
    emails: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def banner(self) -> None:
        self.console.print("[bold]skene-cdc demo[/]: a sample app on a throwaway PostgreSQL, "
                           "a month of simulated users, the loops' emails and funnels. "
                           "Ctrl-C stops it and cleans up.\n")

    def line(self, text: str) -> None:
        with self.lock:
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
        with self.lock:
            self.console.print(f"\n[bold]== {text}[/]")

    def capture_summary(self, url: str) -> None:
        with connect(url, autocommit=True) as conn:
            row = conn.execute(sql.load("demo/counts")).fetchone() or {}
        self.line(f"Captured {row.get('events')} events into skene.events; skene.users shows "
                  f"{row.get('users')} users: {row.get('active')} active this week, "
                  f"{row.get('dormant')} dormant for 7+ days")

    def email(self, message: Message) -> None:
        """One sent email (console provider): recipient and subject, then its text, shortened.
        Called from the sender's thread."""
        body = " ".join((message.text or _strip_tags(message.html)).split())
        width = max(self.console.width - 6, 40)
        if len(body) > width:
            body = body[:width - 3] + "..."
        # The envelope only where the terminal can show it: a plain pipe may be ASCII.
        mark = "\u2709" if self.console.encoding.lower().startswith("utf") else "*"
        with self.lock:
            self.emails += 1
            self.console.print(f"   [green]{mark}[/] {escape(message.to):<28} "
                               f"[bold]{escape(message.subject)}[/]")
            self.console.print(f"     [dim]{escape(body)}[/]")

    def funnels(self, url: str) -> None:
        """The loops' funnels as psql shows them (view skene.loop_funnel), variants indented."""
        with connect(url, autocommit=True) as conn:
            rows = funnel_rows(conn)
        self.console.print()
        if not rows:
            self.console.print("[bold]Loop funnels[/]: no enrolments yet")
            return
        table = Table(title="Loop funnels (select * from skene.loop_funnel)", title_justify="left",
                      title_style="bold")
        for col in ("loop", "enrolled", "sent", "converted", "conversion"):
            table.add_column(col, justify="left" if col == "loop" else "right")
        for r in rows:
            variant = r["variant"] != "(all)"
            name = f"  {r['variant']}" if variant else str(r["loop"])
            rate = r["conversion_rate"]
            base = "enrolled" if r["type"] in ("activation", "milestone") else "sent"
            pct = "-" if rate is None else f"{100 * rate:.0f}% of {base}"
            table.add_row(name, str(r["enrolled"]), str(r["sent"]), str(r["converted"]), pct,
                          style="dim" if variant else None)
        self.console.print(table)
        self.console.print("[dim]converted: activation = made the first project, milestones = "
                           "reached the count, retention = active again within 7 days of the "
                           "email[/]")

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
