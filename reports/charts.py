"""Server-rendered SVG charts: a series by day as an inline `<svg>`, with axes,
labels and a legend. No JavaScript, nothing fetched from anywhere.

Values are integers (counts, or amounts in smallest units); `label` turns a value
into the text shown on the axis and in each point's tooltip (amounts go through
`wallet.money.format_units`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLORS = ("#2f6fb0", "#c0392b", "#27ae60", "#8e44ad", "#d35400")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 80, 16, 28, 44


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]


GRIDLINES = 4  # above the zero line


def _nice_step(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def svg_chart(
    *,
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    bars: bool = False,
    label: Callable[[int], str] = str,
) -> SafeString:
    """An inline SVG chart of `series` over `days` (oldest first): lines with a
    point per day, or bars when `bars` (a single series). The y axis runs from
    zero to a round maximum in four equal steps of 1, 2 or 5 x 10^n, each
    labelled; the x axis labels the first, middle and last day. Values are counts
    or amounts, never negative (the report tables' constraints)."""
    if bars and len(series) != 1:
        raise ValueError("a bar chart shows exactly one series")
    for one in series:
        if len(one.values) != len(days):
            raise ValueError(f"series {one.label!r} needs one value per day")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [value for one in series for value in one.values]
    if any(value < 0 for value in values):
        raise ValueError("the chart shows non-negative values only")
    step = _nice_step(-(-max([*values, 0]) // GRIDLINES))
    top = step * GRIDLINES

    def y_of(value: int) -> float:
        return TOP + plot_h - value * plot_h / top

    count = len(days)
    slot = plot_w / max(count, 1)

    def x_of(index: int) -> float:
        return LEFT + slot * index + slot / 2

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    # y axis: gridlines and labels
    for line in range(GRIDLINES + 1):
        value = step * line
        y = y_of(value)
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}"'
            f' y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text class="y-label" x="{LEFT - 6}" y="{y + 4:.1f}"'
            f' text-anchor="end">{escape(label(value))}</text>'
        )
    out.append(
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}"'
        f' y2="{TOP + plot_h}" stroke="#333"/>'
    )
    zero = y_of(0)
    out.append(
        f'<line class="axis" x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}"'
        f' y2="{zero:.1f}" stroke="#333"/>'
    )
    # x axis labels: first, middle, last day
    for index in sorted({0, (count - 1) // 2, count - 1} if count else set()):
        out.append(
            f'<text class="x-label" x="{x_of(index):.1f}" y="{TOP + plot_h + 16}"'
            f' text-anchor="middle">{days[index].isoformat()}</text>'
        )
    if not count:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}"'
            ' text-anchor="middle" fill="#777">No data for these filters.</text>'
        )
    for number, one in enumerate(series):
        color = COLORS[number % len(COLORS)]
        points = [
            (x_of(i), y_of(value), day, value)
            for i, (day, value) in enumerate(zip(days, one.values, strict=True))
        ]
        if bars:
            width = max(slot * 0.7, 1.0)
            for x, y, day, value in points:
                height = zero - y
                out.append(
                    f'<rect class="point" x="{x - width / 2:.1f}" y="{y:.1f}"'
                    f' width="{width:.1f}" height="{height:.1f}" fill="{color}"'
                    f' data-day="{day.isoformat()}" data-value="{value}">'
                    f"<title>{day.isoformat()}: {escape(label(value))}</title></rect>"
                )
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            if len(points) > 1:
                out.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2"'
                    f' points="{path}"/>'
                )
            for x, y, day, value in points:
                out.append(
                    f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3"'
                    f' fill="{color}" data-series="{escape(one.label)}"'
                    f' data-day="{day.isoformat()}" data-value="{value}">'
                    f"<title>{escape(one.label)} {day.isoformat()}: "
                    f"{escape(label(value))}</title></circle>"
                )
        legend_x = LEFT + 170 * number
        out.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 17}" width="10" height="10"'
            f' fill="{color}"/><text class="legend" x="{legend_x + 14}"'
            f' y="{HEIGHT - 8}">{escape(one.label)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every text above is escaped)
