"""Server-rendered SVG bar charts: geometry here, markup in analytics/_bar_chart.html.

Coordinates are SVG user units (floats are fine there); the amounts stay integer cents.
"""

from dataclasses import dataclass
from typing import NamedTuple

from flask_babel import gettext

from app.money import format_money

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 80, 8, 12, 28  # LEFT: room for "−$1,234.00"
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


class Bar(NamedTuple):  # a tuple: a year of bars is 365 of them, built per request
    x: float
    y: float
    width: float
    height: float
    css: str  # "bar" (zero or above the axis) or "bar-neg" (below it)
    tooltip: str


class Tick(NamedTuple):
    x: float
    y: float
    text: str
    anchor: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: float
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _r(value: float) -> float:
    return round(value, 2)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    points: list[tuple[str, int | None]],
    *,
    empty_text: str | None = None,
) -> BarChart:
    """Bars for (label, cents) points, left to right; None draws no bar (an empty period).

    The zero axis sits where the largest positive and the largest negative value leave it:
    positive bars grow up from it, negative bars ("bar-neg") hang below it.
    """
    values = [value for _, value in points if value is not None]
    top = max([0, *values])
    bottom = -min([0, *values])
    scale = PLOT_HEIGHT / (top + bottom) if top + bottom else 0.0
    axis_y = TOP + top * scale if top + bottom else TOP + PLOT_HEIGHT
    slot = PLOT_WIDTH / max(len(points), 1)
    bar_width = max(slot * 0.8, 0.5)
    offset = LEFT + (slot - bar_width) / 2
    width = round(bar_width, 2)
    bars = []
    for index, (label, value) in enumerate(points):
        if value is None:
            continue
        height = round(abs(value) * scale, 2)
        bars.append(
            Bar(
                round(offset + index * slot, 2),
                round(axis_y - height, 2) if value >= 0 else round(axis_y, 2),
                width,
                height,
                "bar" if value >= 0 else "bar-neg",
                gettext("%(label)s: %(amount)s", label=label, amount=format_money(value)),
            )
        )
    y_ticks = [Tick(LEFT - 6, _r(axis_y), format_money(0), "end")]
    if top:
        y_ticks.insert(0, Tick(LEFT - 6, TOP, format_money(top), "end"))
    if bottom:
        y_ticks.append(Tick(LEFT - 6, TOP + PLOT_HEIGHT, format_money(-bottom), "end"))
    x_ticks = []
    if points:
        baseline = HEIGHT - 8
        x_ticks.append(Tick(LEFT, baseline, points[0][0], "start"))
        if len(points) > 2:
            middle = len(points) // 2
            x_ticks.append(
                Tick(_r(LEFT + (middle + 0.5) * slot), baseline, points[middle][0], "middle")
            )
        if len(points) > 1:
            x_ticks.append(Tick(WIDTH - RIGHT, baseline, points[-1][0], "end"))
    if not values:
        description = gettext(
            "%(description)s (%(empty)s)",
            description=description,
            empty=empty_text or gettext("no data"),
        )
    return BarChart(
        id=chart_id,
        title=title,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        axis_y=_r(axis_y),
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )
