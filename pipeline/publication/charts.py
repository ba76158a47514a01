"""Geometry of the release page's charts, drawn as inline SVG by `templates/index.html`.

Computed here, in pixels, so the page needs no script and no library from the network (it
is read offline, from a portal or a downloaded copy) and looks the same in every browser.
Every bar carries a <title> with its label and exact count, which browsers show on hover
and screen readers read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.spanish import counted, number

COLOUR = "#2563eb"
#: entities drawn in the chart; the table below it lists every one
TOP_ENTITIES = 15
_NAME_CHARS = 42


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    title: str  # "agosto de 2024: 37 visitas"
    label: str  # under the axis, "" when skipped for room
    label_x: float
    value: str  # above the column, "" when there are too many columns to fit them
    value_y: float


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    label_y: float
    columns: list[Column]
    ticks: list[Tick]
    label: str
    colour: str = COLOUR


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    text_y: float
    label: str
    title: str
    value: str
    value_x: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_x: int
    bar_x: int
    bar_height: int
    bars: list[Bar]
    label: str
    colour: str = COLOUR


def _step(top: int) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most five gridlines up to `top`."""
    raw = max(top / 4, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def columns(points: list[tuple[str, str, int]], *, label: str, width: int = 720,
            height: int = 260) -> ColumnChart | None:
    """A column per (axis label, full label, count), left to right; None without points."""
    if not points:
        return None
    left, right, top_margin, bottom = 64, width - 12, 24, 40
    baseline = height - bottom
    plot_h = baseline - top_margin
    step = _step(max(n for *_, n in points))
    top = max(step * math.ceil(max(n for *_, n in points) / step), step)
    slot = (right - left) / len(points)
    every = math.ceil(len(points) / 12)  # at most ~12 axis labels
    show_values = len(points) <= 24
    cols = []
    for i, (short, full, n) in enumerate(points):
        h = plot_h * n / top
        x = left + i * slot + slot * 0.15
        cols.append(Column(
            x=round(x, 1), y=round(baseline - h, 1), width=round(max(slot * 0.7, 1), 1),
            height=round(h, 1), title=f"{full}: {counted(n, 'visita')}",
            label=short if i % every == 0 else "", label_x=round(left + (i + 0.5) * slot, 1),
            value=number(n) if show_values else "", value_y=round(baseline - h - 4, 1)))
    ticks = [Tick(y=round(baseline - plot_h * v / top, 1), label=number(v))
             for v in range(0, top + 1, step)]
    return ColumnChart(width=width, height=height, plot_left=left, plot_right=right,
                       baseline=baseline, label_y=baseline + 18, columns=cols, ticks=ticks,
                       label=label)


def bars(items: list[tuple[str, int]], *, label: str, width: int = 720) -> BarChart | None:
    """A horizontal bar per (label, count), top to bottom, the first `TOP_ENTITIES` only."""
    items = items[:TOP_ENTITIES]
    if not items:
        return None
    bar_h, gap, label_w = 20, 8, 320
    top = max(n for _, n in items) or 1
    drawn = []
    for i, (name, n) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(2.0, (width - label_w - 70) * n / top)  # 70 px right of the longest for its count
        short = name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS - 1].rstrip() + "…"
        drawn.append(Bar(y=y, width=round(w, 1), text_y=round(y + bar_h * 0.72, 1), label=short,
                         title=f"{name}: {counted(n, 'visita')}",
                         value=number(n), value_x=round(label_w + w + 6, 1)))
    return BarChart(width=width, height=len(items) * (bar_h + gap) + gap, label_x=label_w - 8,
                    bar_x=label_w, bar_height=bar_h, bars=drawn, label=label)
