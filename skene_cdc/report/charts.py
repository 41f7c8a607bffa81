"""Inline SVG charts, generated here so the report needs no script and no CDN: a line chart, a
bar chart and horizontal bars. Every point carries a <title>, which browsers show on hover."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 26, 30
MAX_X_LABELS = 10

COLORS = {"enrolled": "#4f46e5", "sent": "#0891b2", "converted": "#16a34a",
          "events": "#64748b", "p50": "#d97706", "p95": "#dc2626"}


@dataclass
class Series:
    name: str
    values: Sequence[float | None]
    color: str


TICKS = 4


def nice_max(v: float, *, integer: bool = True) -> float:
    """The axis top: TICKS round steps (1, 2 or 5 x 10^k) reaching at least v, so every tick
    label is round; counts (`integer`) never get fractional ticks."""
    if v <= 0:
        return float(TICKS) if integer else 1.0
    raw = v / TICKS
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if integer:
        step = max(step, 1)
    return float(step * TICKS)


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or v == int(v) else f"{v:.1f}"


def _frame(kind: str, label: str, body: list[str], height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart {escape(kind)}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        + "".join(body) + "</svg>")


def _axes(x_labels: Sequence[str], y_max: float, fmt: Callable[[float], str]) -> list[str]:
    """Gridlines with y tick labels, and at most MAX_X_LABELS x labels."""
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(TICKS + 1):
        v = y_max * i / TICKS
        y = TOP + plot_h - plot_h * i / TICKS
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#6b7280">{escape(fmt(v))}</text>')
    n = len(x_labels)
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for i, label in enumerate(x_labels):
        # Every `every`-th label, and the last one, unless it would crowd the one before it.
        if i != n - 1 and (i % every or n - 1 - i < every):
            continue
        x = _x(i, n)
        out.append(f'<text class="xlabel" x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                   f'font-size="11" fill="#6b7280">{escape(label)}</text>')
    return out


def _x(i: int, n: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + plot_w * (i + 0.5) / max(n, 1)


def _y(v: float, y_max: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * (v / y_max)


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], LEFT
    for s in series:
        out.append(f'<rect x="{x}" y="6" width="10" height="10" rx="2" fill="{s.color}"/>'
                   f'<text class="legend" x="{x + 14}" y="15" font-size="12" '
                   f'fill="#374151">{escape(s.name)}</text>')
        x += 24 + 8 * len(s.name)
    return out


def line_chart(kind: str, label: str, x_labels: Sequence[str], series: Sequence[Series],
               fmt: Callable[[float], str] = _num, integer: bool = True) -> Markup:
    """Lines with a dot per point; a None value breaks its line (no data that hour/day)."""
    n = len(x_labels)
    y_max = nice_max(max((v for s in series for v in s.values if v is not None), default=0),
                     integer=integer)
    body = _axes(x_labels, y_max, fmt) + _legend(series)
    for s in series:
        path, pen_down = [], False
        for i, v in enumerate(s.values):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{_x(i, n):.1f},{_y(v, y_max):.1f}")
            pen_down = True
        if path:
            body.append(f'<path class="series" data-series="{escape(s.name)}" d="{" ".join(path)}" '
                        f'fill="none" stroke="{s.color}" stroke-width="2" '
                        f'stroke-linejoin="round"/>')
        for i, v in enumerate(s.values):
            if v is not None and n <= 90:
                body.append(f'<circle cx="{_x(i, n):.1f}" cy="{_y(v, y_max):.1f}" r="2.5" '
                            f'fill="{s.color}"><title>{escape(x_labels[i])}: {escape(s.name)} '
                            f'{escape(fmt(v))}</title></circle>')
    return _frame(kind, label, body)


def bar_chart(kind: str, label: str, x_labels: Sequence[str], s: Series,
              fmt: Callable[[float], str] = _num) -> Markup:
    n = len(x_labels)
    values = [v or 0 for v in s.values]
    y_max = nice_max(max(values, default=0))
    body = _axes(x_labels, y_max, fmt)
    bar_w = max((WIDTH - LEFT - RIGHT) / max(n, 1) * 0.7, 1)
    for i, v in enumerate(values):
        y = _y(v, y_max)
        body.append(f'<rect class="bar" x="{_x(i, n) - bar_w / 2:.1f}" y="{y:.1f}" '
                    f'width="{bar_w:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" fill="{s.color}">'
                    f'<title>{escape(x_labels[i])}: {escape(fmt(v))} {escape(s.name)}</title></rect>')
    return _frame(kind, label, body)


def hbars(kind: str, label: str, rows: Sequence[tuple[str, float, str]],
          color: str | Sequence[str], scale_max: float | None = None) -> Markup:
    """One horizontal bar per row: (label, value, text shown after the bar); one color for all
    bars or one per row."""
    colors = [color] * len(rows) if isinstance(color, str) else list(color)
    row_h, label_w = 26, 190
    height = max(len(rows), 1) * row_h + 8
    top = max((v for _, v, _ in rows), default=0)
    vmax = scale_max or nice_max(top)
    plot_w = WIDTH - label_w - 150
    body = []
    for i, (name, v, text) in enumerate(rows):
        y = 4 + i * row_h
        w = plot_w * (v / vmax) if vmax else 0
        body.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="12" '
                    f'fill="#374151">{escape(name)}</text>'
                    f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" '
                    f'height="{row_h - 8}" rx="3" fill="{colors[i]}"><title>{escape(name)}: '
                    f'{escape(text)}</title></rect>'
                    f'<text x="{label_w + max(w, 1) + 6:.1f}" y="{y + 16}" font-size="12" '
                    f'fill="#111827">{escape(text)}</text>')
    return _frame(kind, label, body, height=height)
