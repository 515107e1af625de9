"""Bar chart geometry: to scale, losses below the axis, no bar for an empty period."""

import pytest

from app.blueprints.analytics.charts import HEIGHT, PLOT_HEIGHT, TOP, bar_chart


def test_bars_are_to_scale_around_the_zero_axis():
    chart = bar_chart("c", "T", "D", [("a", 3000), ("b", -1000), ("c", None), ("d", 0)])
    assert chart.axis_y == TOP + PLOT_HEIGHT * 3 / 4
    gain, loss, zero = chart.bars
    assert (gain.css, loss.css, zero.css) == ("bar", "bar-neg", "bar")
    assert gain.y == TOP and gain.y + gain.height == pytest.approx(chart.axis_y)
    assert loss.y == chart.axis_y and loss.height == pytest.approx(PLOT_HEIGHT / 4)
    assert zero.height == 0
    assert [bar.tooltip for bar in chart.bars] == ["a: $30.00", "b: −$10.00", "d: $0.00"]
    assert gain.x < loss.x < zero.x  # "c" keeps its slot, with no bar in it
    assert [tick.text for tick in chart.y_ticks] == ["$30.00", "$0.00", "−$10.00"]
    assert [tick.text for tick in chart.x_ticks] == ["a", "c", "d"]


def test_all_negative_puts_the_axis_at_the_top():
    chart = bar_chart("c", "T", "D", [("a", -500), ("b", -250)])
    assert chart.axis_y == TOP
    assert [bar.height for bar in chart.bars] == [PLOT_HEIGHT, PLOT_HEIGHT / 2]


def test_nothing_to_draw_says_so():
    chart = bar_chart("c", "T", "Rewards", [("a", None)], empty_text="no task completed")
    assert chart.bars == []
    assert chart.description == "Rewards (no task completed)"
    assert chart.axis_y == HEIGHT - 28


def test_the_axis_writes_money_as_the_rest_of_the_page():
    """One money format: the axis's amounts keep their cents, as the tables' do."""
    chart = bar_chart("c", "T", "D", [("a", 2800), ("b", -1300)])
    assert [tick.text for tick in chart.y_ticks] == ["$28.00", "$0.00", "−$13.00"]
