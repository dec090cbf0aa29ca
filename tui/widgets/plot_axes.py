"""Round axis ticks, and axes that stay put while a run trains, for the plotext plots.

Stable axes are what make a partial redraw small (tui/widgets/cell_canvas.py): while neither axis
moves, a new batch changes only the newest column of the plot. So the x axis spans the run's planned
length (or doubles), and the y limits snap to decades (log) or round steps (linear): they move only
when the data leaves them.
"""
from __future__ import annotations

import math


def nice_step(span: float, count: int = 5) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span`."""
    raw = max(span, 1e-12) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    step = nice_step(high - low, count)
    if integer:
        step = max(1, round(step))
    first = math.ceil(low / step) * step
    ticks, tick = [], first
    while tick <= high + step * 1e-9:
        ticks.append(tick)
        tick += step
    return ticks


FIRST_SPAN = 1000  # iterations the x axis spans at first when the run's length is not known


def x_span(last_iteration: int, planned: int | None) -> int:
    """How many iterations the x axis spans: the run's `planned` length while the run is within it, else
    the first of FIRST_SPAN (or `planned`) times 2, 4, 8 ... that holds the last iteration."""
    span = max(planned or FIRST_SPAN, 1)
    while span < last_iteration:
        span *= 2
    return span


def round_span(last: int) -> int:
    """The first of 10, 15, 20, 30, 40, 50, 75, 100, 150 ... that holds `last`: an x axis that grows with a
    series of any length, moves seldom (seven times per power of ten) and leaves at most a third empty."""
    power = 10
    while True:
        for mantissa in (1, 1.5, 2, 3, 4, 5, 7.5):
            if mantissa * power >= last:
                return int(mantissa * power)
        power *= 10


def log_limits(low: float, high: float) -> tuple[float, float]:
    """The decades around `low` to `high` (both > 0): 0.02 to 3 gives 0.01 to 10."""
    bottom, top = 10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high))
    return bottom, top if top > bottom else bottom * 10


def linear_limits(low: float, high: float) -> tuple[float, float]:
    """`low` to `high` widened to round steps (about five of them): 0.13 to 2.31 gives 0 to 2.5. A flat
    series is put in the middle, a round step above and below it: 5 gives 4.8 to 5.2, 0.001 gives 0.0008
    to 0.0012, 0 gives -1 to 1."""
    if not high - low > 1e-9 * max(abs(low), abs(high)):  # (flat but for rounding, as an EMA of a constant)
        step = 2 * 10.0 ** (math.floor(math.log10(abs(high))) - 1) if high else 1.0
        return low - step, high + step
    step = nice_step(high - low)
    bottom, top = math.floor(low / step) * step, math.ceil(high / step) * step
    return bottom, top if top > bottom else bottom + step


def iteration_axis(plt, span: int, width: int) -> None:
    """x from 0 to `span` iterations (x_span) with round, labelled ticks (both plots share this)."""
    high = max(span, 1)
    plt.xlim(0, high)
    ticks = nice_ticks(0, high, count=max(2, min(6, width // 14)), integer=True)
    plt.xticks(ticks, [f"{int(t):,}" for t in ticks])


def value_axis(plt, bottom: float, top: float, log: bool, height: int) -> None:
    """The y axis from `bottom` to `top` (log_limits or linear_limits), log or linear."""
    plt.yscale("log" if log else "linear")
    if log:
        plt.ylim(math.log10(bottom), math.log10(top))  # (plotext takes a log axis's limits in decades)
        decade_ticks(plt, bottom, top, height)
    else:
        plt.ylim(bottom, top)


def decade_ticks(plt, low: float, high: float, height: int) -> None:
    """On a log y axis from `low` to `high` (> 0, log_limits), ticks at the powers of ten, labelled 1e-09, 0.001, 1, 10.

    plotext labels a log axis in fixed decimals, where 1e-10 (the floor of a loss that reached 0)
    reads 0.000000000. With fewer than four powers of ten in range, its own ticks say more, and stay.
    """
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    if last - first < 3:
        return
    step = math.ceil((last - first + 1) / max(height // 4, 2))  # a tick every four rows or more
    ticks = [10.0 ** k for k in range(first, last + 1, step)]
    plt.yticks(ticks, [f"{t:g}" for t in ticks])
