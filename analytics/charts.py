"""Geometry of the dashboard's charts, rendered server-side as inline SVG by analytics/templates.

No JavaScript library and no CDN: Python computes coordinates, the templates only draw them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 12, 30
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")

XValue = date | datetime


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    path: str
    points: tuple[Point, ...]


@dataclass(frozen=True, kw_only=True)
class ChartFrame:
    """What every chart draws the same way (templates/analytics/charts/_frame.html): title, y grid, size."""

    title: str
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    right_edge: int = WIDTH - _RIGHT
    bottom: int = HEIGHT - _BOTTOM


@dataclass(frozen=True, kw_only=True)
class LineChart(ChartFrame):
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]

    @property
    def empty(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True, kw_only=True)
class BarChart(ChartFrame):
    bars: tuple[Bar, ...]

    @property
    def empty(self) -> bool:
        return not self.bars


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (axis top)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top: float = step * 10**exponent
        if top >= value:
            return top
    return 10.0 ** (exponent + 1)


def _y_scale(top: float, fmt: Callable[[float], str]) -> tuple[Callable[[float], float], tuple[Tick, ...]]:
    plot = HEIGHT - _BOTTOM - _TOP

    def y(value: float) -> float:
        return round(HEIGHT - _BOTTOM - plot * value / top, 1)

    ticks = tuple(Tick(y(top * i / 4), fmt(top * i / 4)) for i in range(5))
    return y, ticks


def _x_number(value: XValue) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value.toordinal() * 86400)


def _x_label(value: XValue) -> str:
    return value.strftime("%m-%d %H:%M") if isinstance(value, datetime) else value.strftime("%Y-%m-%d")


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[XValue, float]]],
    *,
    fmt: Callable[[float], str] = number,
) -> LineChart:
    """One line per series (with a marker per point); x is time, y starts at 0."""
    series = {name: points for name, points in series.items() if points}
    xs = sorted({_x_number(x) for points in series.values() for x, _ in points})
    if not xs:
        return LineChart(title=title, lines=(), x_ticks=(), y_ticks=())
    top = _nice_max(max(value for points in series.values() for _, value in points))
    y, y_ticks = _y_scale(top, fmt)
    x_min, x_max = xs[0], xs[-1]
    span = (WIDTH - _RIGHT) - _LEFT

    def x(value: float) -> float:
        if x_max == x_min:
            return _LEFT + span / 2
        return round(_LEFT + span * (value - x_min) / (x_max - x_min), 1)

    lines = []
    labels: dict[float, str] = {}
    for index, (name, points) in enumerate(sorted(series.items())):
        drawn = []
        for raw_x, value in sorted(points, key=lambda point: _x_number(point[0])):
            labels[_x_number(raw_x)] = _x_label(raw_x)
            drawn.append(Point(x(_x_number(raw_x)), y(value), f"{name} {_x_label(raw_x)}: {fmt(value)}"))
        path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(drawn))
        lines.append(Line(name=name, color=PALETTE[index % len(PALETTE)], path=path, points=tuple(drawn)))
    # First, middle and last x: enough to read the time axis without overlapping labels.
    tick_xs = sorted({xs[0], xs[len(xs) // 2], xs[-1]})
    # The outer labels grow inwards so that none is cut at the chart's edge.
    anchors = {xs[0]: "start", xs[-1]: "end"} if len(xs) > 1 else {}
    x_ticks = tuple(Tick(x(value), labels[value], anchors.get(value, "middle")) for value in tick_xs)
    return LineChart(title=title, lines=tuple(lines), x_ticks=x_ticks, y_ticks=y_ticks)


def bar_chart(title: str, values: Mapping[str, float], *, fmt: Callable[[float], str] = number) -> BarChart:
    """One bar per key, in the given order."""
    if not values:
        return BarChart(title=title, bars=(), y_ticks=())
    top = _nice_max(max(values.values()))
    y, y_ticks = _y_scale(top, fmt)
    slot = ((WIDTH - _RIGHT) - _LEFT) / len(values)
    width = max(1.0, slot * 0.8)
    bars = []
    for index, (label, value) in enumerate(values.items()):
        bar_top = y(value)
        bars.append(
            Bar(
                x=round(_LEFT + slot * index + (slot - width) / 2, 1),
                y=bar_top,
                width=round(width, 1),
                height=round(HEIGHT - _BOTTOM - bar_top, 1),
                label=label,
                value=fmt(value),
            )
        )
    return BarChart(title=title, bars=tuple(bars), y_ticks=y_ticks)
