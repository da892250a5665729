"""The server-rendered SVG chart: points where the values say, axes, labels."""

from __future__ import annotations

import re
from datetime import date

import pytest

from reports.charts import Series, svg_chart
from wallet.money import format_units

DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def circles(svg: str) -> list[tuple[str, str, str, str]]:
    return re.findall(
        r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)" r="3" fill="#[0-9a-f]+"'
        r' data-series="[^"]*" data-day="([\d-]+)" data-value="(\d+)">',
        svg,
    )


def test_a_line_chart_puts_each_point_where_its_value_is():
    # given 0, 5 and 10 over three days
    svg = svg_chart(title="Trades", days=DAYS, series=[Series("trades", [0, 5, 10])])

    # then the y axis runs 0..20 in steps of 5 over the 188-pixel plot (top at
    # y=28, zero at y=216), and the three days sit in the middle of their slots
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.endswith("</svg>")
    assert circles(svg) == [
        ("184.0", "216.0", "2026-03-02", "0"),
        ("392.0", "169.0", "2026-03-03", "5"),
        ("600.0", "122.0", "2026-03-04", "10"),
    ]
    assert 'points="184.0,216.0 392.0,169.0 600.0,122.0"' in svg
    assert re.findall(r'class="y-label"[^>]*>([^<]*)<', svg) == [
        "0",
        "5",
        "10",
        "15",
        "20",
    ]
    assert re.findall(r'class="x-label"[^>]*>([^<]*)<', svg) == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    assert "<title>trades 2026-03-04: 10</title>" in svg


def test_amount_labels_and_two_series():
    svg = svg_chart(
        title="USD in and out",
        days=DAYS[:2],
        series=[Series("deposits", [500_000, 25_000]), Series("withdrawals", [0, 0])],
        label=lambda units: format_units(units, 2),
    )
    # 5,000.00 USD at most: steps of 2,000.00 (ceil(500,000 / 4) -> 200,000)
    assert re.findall(r'class="y-label"[^>]*>([^<]*)<', svg) == [
        "0.00",
        "2000.00",
        "4000.00",
        "6000.00",
        "8000.00",
    ]
    assert [c[3] for c in circles(svg)] == ["500000", "25000", "0", "0"]
    assert "<title>deposits 2026-03-02: 5000.00</title>" in svg
    assert re.findall(r'class="legend"[^>]*>([^<]*)<', svg) == [
        "deposits",
        "withdrawals",
    ]


def test_bars_rise_from_the_zero_line():
    svg = svg_chart(
        title="New users", days=DAYS[:2], series=[Series("users", [4, 1])], bars=True
    )
    # 4 is the top (steps of 1); slots of 312 pixels, bars 70% of a slot wide
    assert re.findall(
        r'<rect class="point" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"'
        r' height="([\d.]+)" fill="#[0-9a-f]+" data-day="([\d-]+)"'
        r' data-value="(\d+)">',
        svg,
    ) == [
        ("126.8", "28.0", "218.4", "188.0", "2026-03-02", "4"),
        ("438.8", "169.0", "218.4", "47.0", "2026-03-03", "1"),
    ]


def test_text_is_escaped_and_an_empty_chart_says_so():
    svg = svg_chart(title="<script>x</script>", days=[], series=[])
    assert "<script>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "No data for these filters." in svg
    assert circles(svg) == []


def test_bad_series_are_refused():
    with pytest.raises(ValueError, match="one value per day"):
        svg_chart(title="t", days=DAYS, series=[Series("a", [1])])
    with pytest.raises(ValueError, match="exactly one series"):
        svg_chart(
            title="t",
            days=DAYS,
            series=[Series("a", [1, 2, 3]), Series("b", [1, 2, 3])],
            bars=True,
        )
    with pytest.raises(ValueError, match="non-negative"):
        svg_chart(title="t", days=DAYS[:1], series=[Series("a", [-1])])
