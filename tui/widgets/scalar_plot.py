"""One scalar tag of a TensorBoard log: one run's values as the loss plot draws a run's loss (the min/max band
and its EMA), or several runs' overlaid, one colour each (their EMA, or their values with t)."""
from __future__ import annotations

import numpy as np

from ..scalars import ScalarsState
from .loss_plot import band, draw_band, series_lines
from .plot_axes import iteration_axis, linear_limits, log_limits, nice_ticks, round_span, value_axis
from .plot_values import YAxis
from .timed_plot import TimedPlot

COLORS = ("orange", "cyan", "green", "magenta", "blue", "red", "yellow", "white")
ASCII_MARKERS = ".+xo*#%@"  # with --ascii, runs told apart by their marker (no colour may be seen)


class ScalarPlot(TimedPlot):
    """Draws `tag` of a ScalarsState (its `state`); `log_scale` and `smoothing` as the loss plot's."""

    def __init__(self, state: ScalarsState, **kwargs):
        super().__init__(state, **kwargs)  # (TimedPlot keeps it as `state`: here a ScalarsState)
        self.tag: str | None = None
        self.log_scale = False
        self.smoothing = True

    def draw(self, plt) -> None:
        runs = self.state.of(self.tag) if self.tag is not None else []
        if not runs:
            plt.title(self.tag or "no scalars yet")
            return
        columns = max(self.size.width - 10, 2)
        plt.title(self.tag + (" (log scale)" if self.log_scale else ""))
        if len(runs) == 1:
            limits, span = self.draw_one(plt, runs[0][1], columns)
        else:
            limits, span = self.draw_overlay(plt, runs, columns)
        bottom, top = limits
        value_axis(plt, bottom, top, self.log_scale, self.size.height)
        if not self.log_scale:
            ticks = nice_ticks(bottom, top, count=max(2, self.size.height // 4))
            plt.yticks(ticks, [f"{t:.3g}" for t in ticks])  # 1.2e-10, not plotext's 0.000000000120
        iteration_axis(plt, span, self.size.width)

    def draw_one(self, plt, series, columns: int) -> tuple[tuple[float, float], int]:
        lines = series_lines(series.values, series.smoothed if self.smoothing else None,
                             round_span(series.values.last_iteration), columns, self.log_scale)
        draw_band(plt, lines, self.marker, "value (min-max)", columns)
        return lines.limits, lines.span

    def draw_overlay(self, plt, runs, columns: int) -> tuple[tuple[float, float], int]:
        """Each run's EMA (or, without smoothing, its min/max band) in its own colour, on shared axes."""
        span = round_span(max(series.values.last_iteration for _, series in runs))
        edges = np.linspace(0, span, columns + 1)
        curves = []
        for run, series in runs:
            pyramid = series.smoothed if self.smoothing else series.values
            summary = pyramid.blocks(pyramid.first_iteration, pyramid.last_iteration, columns).binned(edges)
            x, y = (summary.iteration, summary.mean) if self.smoothing else band(summary)
            curves.append((run, x, y))
        axis = YAxis.fit([y for _, _, y in curves], log=self.log_scale)
        shown = []
        for number, (run, x, y) in enumerate(curves):
            placed = axis.place(y)
            marker = self.marker(ASCII_MARKERS[number % len(ASCII_MARKERS)])
            plt.plot(x, placed, marker=marker, color=COLORS[number % len(COLORS)], label=run)
            axis.mark(plt, x, y, columns)
            shown.append(placed)
        shown = np.concatenate(shown)
        return (log_limits if self.log_scale else linear_limits)(float(shown.min()), float(shown.max())), span
