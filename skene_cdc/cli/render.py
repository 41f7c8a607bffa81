"""How `skene-cdc status` draws its sections in a terminal (and other commands reuse it).

Fits an 80-column terminal: a section with one row is printed as key/value lines, a section with
several rows as a compact table when it fits, else as one key/value block per row. No import of
the CLI here, so any command module can use it without an import cycle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from skene_cdc.handlers.loops.report import holdout_line
from skene_cdc.listener.slotops import human

# Sections in reading order: is it flowing, are the loops working, what went wrong, who runs it.
# Sections other parts add (replication, freemium, ...) follow in registration order.
ORDER = ["capture", "history", "replication", "loops", "deliveries", "errors", "listeners",
         "tables"]
ERROR_WIDTH = 300


# In --json, not on the screen: `errors` already lists these with everything else that failed.
HIDDEN = {"delivery_errors"}


def render_report(console: Console, report: dict[str, Any], now: datetime) -> None:
    for name in sorted(report, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        if name in HIDDEN:
            continue
        console.print()
        RENDERERS.get(name, render_section)(console, name, report[name], now)


# -- section renderers -----------------------------------------------------------------------------


def render_capture(console: Console, title: str, rows: Any, now: datetime) -> None:
    if not rows:
        _title(console, title, "no cursor yet: `skene-cdc listen` has not run")
        return
    _title(console, title)
    for r in rows:
        lag = r.get("lag_seconds") or 0.0
        state = "[green]caught up[/]" if not r.get("backlog") else f"[yellow]{r['backlog']:,} behind[/]"
        _kv(console, [
            (f"cursor {r['cursor']}", f"{state}, lag {_seconds(lag)}, "
                                      f"{r.get('processed', 0):,} processed"),
            ("last event", _event_ref(r.get("last_event_id"), r.get("last_event_at"), now)),
            ("checkpoint", _event_ref(r.get("checkpoint_event"), r.get("checkpoint_at"), now)),
            *([("repaired", f"{r['repaired']:,} row(s) stored with a note (skene.events.notes)")]
              if r.get("repaired") else []),
            *([("quarantined", f"[yellow]{r['quarantined']:,}[/] (`skene-cdc quarantine list`)")]
              if r.get("quarantined") else []),
            *([("error", f"[red]{escape(_short(r['last_error']))}[/]")] if r.get("last_error")
              else []),
        ])


def render_history(console: Console, title: str, rows: Any, now: datetime) -> None:
    """Queue and history on disk, and the retention in force."""
    row = rows[0] if rows else {}
    _title(console, title)
    days = (f"{row['partitions']} day(s), {row['oldest_day']} to {row['newest_day']}"
            if row.get("partitions") else "no partition yet")
    rate = f", ~{human(row['bytes_per_day'])}/day" if row.get("bytes_per_day") else ""
    _kv(console, [
        ("queue", f"{row.get('queue_depth', 0):,} waiting, {human(row.get('queue_bytes'))} on disk"),
        ("history", f"{days}, {human(row.get('history_bytes'))}{rate}"),
        ("retention", row.get("retention") or "not applied yet (`skene-cdc listen` applies it)"),
        *([("quarantine", f"[yellow]{row['quarantined']:,} held[/] (`skene-cdc quarantine "
                          "list`)")] if row.get("quarantined") else []),
    ])


def render_errors(console: Console, title: str, rows: Any, now: datetime) -> None:
    if not rows:
        _title(console, title, "[green]none[/]")
        return
    _title(console, title)
    for r in rows:
        _line(console, f"{_cell(r['at'], now)}  [bold]{r['source']}[/] {escape(r['subject'])}")
        _line(console, f"[red]{escape(_short(r['error']))}[/]", indent=4)


def render_deliveries(console: Console, title: str, rows: Any, now: datetime) -> None:
    """The outbox by state: how many, and when the next is due or the last changed."""
    if not rows:
        _title(console, title, "none yet")
        return
    _title(console, title)
    width = max(len(r["state"]) for r in rows)
    for r in rows:
        when = (f"next due {_cell(r['next_due'], now)}" if r.get("next_due")
                else f"last {_cell(r.get('last_change'), now)}")
        # The newest error of a state is listed under `errors` (with everything else failing).
        note = ", see errors" if r.get("last_error") else ""
        if r.get("deferred"):
            note += f", {r['deferred']:,} held by a frequency cap or quiet hours"
        _line(console, f"{r['state'].ljust(width)}  {r['n']:>6,}  {when}{note}")


def render_listeners(console: Console, title: str, rows: Any, now: datetime) -> None:
    if not rows:
        _title(console, title, "none running")
        return
    _title(console, title)
    for r in rows:
        state = r.get("state") or ("running" if r.get("alive") else "dead")
        name = escape(str(r["listener"]))
        beat = _cell(r.get("heartbeat_at"), now)
        if state == "dead":
            _line(console, f"{name}: [red]dead: no database session[/] (killed, or its machine "
                           f"is gone), last heartbeat {beat}; its row stays until a listener "
                           "with the same name starts")
            continue
        shown = "[green]running[/]" if state == "running" else \
            "[yellow]stalled: connected, but no heartbeat for 30s[/]"
        idle = ", idle" if r.get("sleeping") else ""
        _line(console, f"{name}: {shown}{idle}, heartbeat {beat}, started "
                       f"{_cell(r.get('started_at'), now)}")


def render_section(console: Console, title: str, value: Any, now: datetime) -> None:
    """Any section: key/value lines for one row, a table when it fits, else a block per row."""
    rows = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if rows is None:
        _title(console, title, escape(_cell(value, now)))
        return
    if not rows:
        _title(console, title, "none")
        return
    rows = [{k: v for k, v in r.items() if any(x.get(k) is not None for x in rows)} for r in rows]
    _title(console, title)
    if len(rows) == 1:
        _kv(console, [(_label(k), escape(_fmt(k, v, now))) for k, v in rows[0].items()])
        return
    cells = [[_fmt(k, v, now) for k, v in r.items()] for r in rows]
    headers = [_label(k) for k in rows[0]]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    if sum(widths) + 2 * len(widths) + 2 <= max(console.width, 40):
        table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False,
                      header_style="dim")
        for i, h in enumerate(headers):
            numeric = all(isinstance(r[k], int | float | Decimal) or r[k] is None
                          for r in rows for k in [list(rows[0])[i]])
            table.add_column(h, justify="right" if numeric else "left")
        for c in cells:
            table.add_row(*(escape(x) for x in c))
        console.print(Padding(table, (0, 0, 0, 2), expand=False))
        return
    for r in rows:
        first, *rest = r.items()
        _line(console, f"[bold]{escape(_cell(first[1], now))}[/]")
        _kv(console, [(_label(k), escape(_fmt(k, v, now))) for k, v in rest], indent=4)


def render_tables(console: Console, title: str, rows: Any, now: datetime) -> None:
    if not rows:
        _title(console, title, "none: run `skene-cdc migrate`")
        return
    _title(console, "captured tables")
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, show_header=False)
    table.add_column(no_wrap=True)
    table.add_column()
    for r in rows:
        cols = [f"user={r['user_id_column']}"]
        cols += [f"time={r['timestamp_column']}"] if r.get("timestamp_column") else []
        cols += [f"event={r['event_column']}"] if r.get("event_column") else []
        table.add_row(escape(r["table_name"]),
                      escape(f"{r['role']}, {r['mode']}: {', '.join(cols)}"))
    console.print(Padding(table, (0, 0, 0, 2), expand=False))


def render_loops(console: Console, title: str, rows: Any, now: datetime) -> None:
    """The funnel (view skene.loop_funnel): a row per loop, its variants indented below it."""
    if not rows:
        _title(console, title, "none enrolled yet")
        return
    _title(console, title)
    extra = [k for k in ("expired", "failed", "suppressed") if any(r.get(k) for r in rows)]
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="dim")
    table.add_column("loop")
    for col in ("enrolled", "met", "sent", "converted", "rate", *extra):
        table.add_column(col, justify="right")
    for r in rows:
        variant = r.get("variant") not in (None, "(all)")
        rate = r.get("conversion_rate")
        table.add_row(escape(f"  {r['variant']}" if variant else str(r["loop"])),
                      *(_cell(r.get(k), now) for k in ("enrolled", "met", "sent", "converted")),
                      "-" if rate is None else f"{100 * float(rate):.1f}%",
                      *(_cell(r.get(k), now) for k in extra),
                      style="dim" if variant else None)
    console.print(Padding(table, (0, 0, 0, 2), expand=False))
    console.print("  [dim]rate: activation and milestones converted / enrolled, others "
                  "converted / sent[/]")
    for r in rows:
        line = holdout_line(r) if r.get("variant") in (None, "(all)") else None
        if line:
            _line(console, f"{escape(str(r['loop']))} holdout: {escape(line)}")


def render(console: Console, title: str, value: Any) -> None:
    """One section, as `status` shows it; for other commands (e.g. `loops list`)."""
    RENDERERS.get(title, render_section)(console, title, value, datetime.now(UTC))


RENDERERS: dict[str, Callable[[Console, str, Any, datetime], None]] = {
    "capture": render_capture,
    "history": render_history,
    "errors": render_errors,
    "listeners": render_listeners,
    "tables": render_tables,
    "loops": render_loops,
    "deliveries": render_deliveries,
}


# -- formatting ---------------------------------------------------------------------------------


def _title(console: Console, title: str, inline: str | None = None) -> None:
    console.print(f"[bold]{title}[/]" + (f": {inline}" if inline is not None else ""))


def _kv(console: Console, pairs: Sequence[tuple[str, str]], indent: int = 2) -> None:
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        _line(console, f"{k.ljust(width)}  {v}", indent=indent)


def _line(console: Console, markup: str, indent: int = 2) -> None:
    """One body line; when it wraps, the continuation keeps the indent."""
    console.print(Padding(Text.from_markup(markup), (0, 0, 0, indent), expand=False))


def _label(key: str) -> str:
    return key.removesuffix("_pct").replace("_", " ")


def _fmt(key: str, v: Any, now: datetime) -> str:
    if key.endswith("_pct") and v is not None:
        return f"{float(v):.1f}%"
    return _cell(v, now)


def _cell(v: Any, now: datetime) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return _ago(v, now)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float | Decimal):
        return f"{v:,.1f}"
    return str(v)


def _ago(at: datetime, now: datetime) -> str:
    delta = now - at
    secs = delta.total_seconds()
    if secs < -1:
        return f"in {_duration(-delta)}"
    if secs < 86400:
        return f"{_duration(delta)} ago"
    return f"{at:%Y-%m-%d %H:%M}"


def _duration(d: timedelta) -> str:
    s = max(d.total_seconds(), 0)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m"
    return f"{s // 3600:.0f}h{(s % 3600) // 60:02.0f}m"


def _seconds(s: float) -> str:
    return f"{s:.1f}s" if s < 60 else _duration(timedelta(seconds=s))


def _event_ref(event_id: Any, at: Any, now: datetime) -> str:
    if event_id is None and at is None:
        return "-"
    return f"#{event_id}, {_cell(at, now)}" if event_id is not None else _cell(at, now)


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_WIDTH else text[:ERROR_WIDTH - 3] + "..."
