"""The report: data from schema skene, charts as inline SVG, one self-contained HTML file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from skene_cdc import __version__
from skene_cdc.handlers.loops.report import holdout_line
from skene_cdc.report import charts
from skene_cdc.report.charts import COLORS, Series
from skene_cdc.report.data import LoopFunnel, ReportData


@dataclass
class LoopView:
    name: str
    totals: dict[str, Any]
    funnel: Markup
    daily: Markup
    variants: list[dict[str, Any]]
    variant_chart: Markup | None
    basis: str  # what conversion is a share of: "enrolled" or "sent" (see view loop_funnel)
    holdout: str | None = None  # emailed vs held out, the lift and its interval


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("skene_cdc.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def loop_view(f: LoopFunnel) -> LoopView:
    days = [f"{d:%b %d}" for d in f.days]
    daily = charts.line_chart(
        "funnel-daily", f"{f.loop}: enrolled, sent and converted per day", days,
        [Series(stage, values, COLORS[stage]) for stage, values in
         (("enrolled", f.enrolled), ("sent", f.sent), ("converted", f.converted))])
    t = f.totals
    enrolled = int(t.get("enrolled") or 0)
    stages = [(stage, int(t.get(stage) or 0)) for stage in ("enrolled", "sent", "converted")]
    funnel = charts.hbars(
        "funnel-total", f"{f.loop}: funnel over all episodes",
        [(stage, n, f"{n:,}" + (f" ({100 * n / enrolled:.0f}%)" if enrolled and i else ""))
         for i, (stage, n) in enumerate(stages)], [COLORS[stage] for stage, _ in stages],
        scale_max=enrolled or 1)
    # Activation and milestones convert by the condition itself, the others after the email.
    basis = "enrolled" if t.get("type") in ("activation", "milestone") else "sent"
    variant_chart = None
    if f.variants:
        variant_chart = charts.hbars(
            "variants", f"{f.loop}: conversion per template variant",
            [(str(v["variant"]), 100 * float(v["conversion_rate"] or 0),
              f"{100 * float(v['conversion_rate'] or 0):.1f}% of {v[basis]} {basis}")
             for v in f.variants], COLORS["sent"], scale_max=100)
    return LoopView(f.loop, t, funnel, daily, f.variants, variant_chart, basis, holdout_line(t))


def render(data: ReportData) -> str:
    utc = [h.astimezone(UTC) for h in data.hourly.hours]
    hours = [f"{h:%H:00}" if h.hour else f"{h:%b %d}" for h in utc]
    events = charts.bar_chart("events-hourly", "events captured per hour", hours,
                              Series("events", data.hourly.events, COLORS["events"]))
    lag = charts.line_chart("lag-hourly", "capture lag per hour (seconds)", hours,
                            [Series("p50", data.hourly.lag_p50, COLORS["p50"]),
                             Series("p95", data.hourly.lag_p95, COLORS["p95"])],
                            fmt=_seconds, integer=False)
    has_lag = any(v is not None for v in data.hourly.lag_p95)
    return _env().get_template("report.html.j2").render(
        data=data, loops=[loop_view(f) for f in data.loops], events_chart=events,
        lag_chart=lag if has_lag else None, version=__version__,
        generated=f"{data.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")


def _seconds(v: float) -> str:
    if v == 0:
        return "0"
    if v < 1:
        return f"{v * 1000:.3g}ms"
    return f"{v:.1f}s" if v < 10 else f"{v:,.0f}s"


def write(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path
