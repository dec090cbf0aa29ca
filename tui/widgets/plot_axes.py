"""Round axis ticks and a shared x range for the plotext plots."""
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


def iteration_axis(plt, last_iteration: int, width: int) -> None:
    """x from 0 to the last iteration with round, labelled ticks (both plots share this)."""
    high = max(last_iteration, 1)
    plt.xlim(0, high)
    ticks = nice_ticks(0, high, count=max(2, min(6, width // 14)), integer=True)
    plt.xticks(ticks, [f"{int(t):,}" for t in ticks])


def decade_ticks(plt, low: float, high: float, height: int) -> None:
    """On a log y axis from `low` to `high` (> 0), ticks at the powers of ten, labelled 1e-09, 0.001, 1, 10.

    plotext labels a log axis in fixed decimals, where 1e-10 (the floor of a loss that reached 0)
    reads 0.000000000. With fewer than four powers of ten in range, its own ticks say more, and stay.
    """
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    if last - first < 3:
        return
    step = math.ceil((last - first + 1) / max(height // 4, 2))  # a tick every four rows or more
    ticks = [10.0 ** k for k in range(first, last + 1, step)]
    plt.yticks(ticks, [f"{t:g}" for t in ticks])
