"""Per-batch loss as a min/max band (two points per column), its EMA, and change markers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.history import Pyramid, Summary

from ..state import MonitorState
from .plot_axes import iteration_axis, linear_limits, log_limits, value_axis, x_span
from .plot_values import YAxis
from .timed_plot import TimedPlot


@dataclass(frozen=True)
class LossLines:
    """What the loss plot draws, placed on its axis: about two points per column, however long the run."""

    axis: YAxis
    limits: tuple[float, float]  # the y axis's: decades (log) or round steps (linear) around what is drawn
    span: int  # the x axis's iterations (plot_axes.x_span)
    x: np.ndarray  # the batches' band: each column's min then max (a lone batch once)
    y: np.ndarray
    moved: np.ndarray  # the band's values before the axis placed them (at x): where it moved one, a mark
    ema_x: np.ndarray | None  # the EMA: each column's mean (None without the EMA line)
    ema_y: np.ndarray | None
    last_iteration: int


def loss_lines(state: MonitorState, columns: int, log: bool, smoothing: bool) -> LossLines | None:
    """The data step of a redraw: a query of the state's loss summaries, so it costs O(columns)."""
    return series_lines(state.losses, state.smoothed if smoothing else None, state.planned_iterations(), columns, log)


def series_lines(values: Pyramid, smoothed: Pyramid | None, planned: int | None, columns: int,
                 log: bool) -> LossLines | None:
    """A series and its EMA (`smoothed`, None: no EMA line) placed on the plot's axes.

    The points are gathered into the plot's columns of the x axis (fixed while the axis is), so new
    points change only the newest column's points.
    """
    first, last = values.first_iteration, values.last_iteration
    if last is None:
        return None
    span = x_span(last, planned)
    edges = np.linspace(0, span, columns + 1)
    batches = values.blocks(first, last, columns).binned(edges)
    ema = smoothed.blocks(first, last, columns).binned(edges) if smoothed is not None else None
    axis = YAxis.fit([batches.low, batches.high] + ([ema.low, ema.high] if ema is not None else []), log=log)
    x, points = band(batches)
    y = axis.place(points)
    shown = np.concatenate([y, axis.place(ema.mean)]) if ema is not None else y
    limits = (log_limits if log else linear_limits)(float(shown.min()), float(shown.max()))
    if ema is None:
        return LossLines(axis, limits, span, x, y, points, None, None, last)
    return LossLines(axis, limits, span, x, y, points, ema.iteration, axis.place(ema.mean), last)


def band(summary: Summary) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's min then max at its iteration; an entry of one point, once. Drawn as one line, the
    min/max pairs show the batch-to-batch noise that an average would hide."""
    pairs = summary.count > 1
    keep = np.column_stack([np.ones_like(pairs), pairs]).ravel()
    return np.repeat(summary.iteration, 1 + pairs), np.column_stack([summary.low, summary.high]).ravel()[keep]


def draw_band(plt, lines: LossLines, marker, label: str, columns: int) -> None:
    """The min/max band (`label`), its EMA and the marks of moved values, as the loss plot draws them
    (the TensorBoard viewer draws a tag of one run the same way). `marker`: the plot's marker(char)."""
    plt.plot(lines.x, lines.y, marker=marker("."), color="gray", label=label)
    if lines.ema_y is not None:
        plt.plot(lines.ema_x, lines.ema_y, marker=marker("*"), color="orange", label="EMA")
    lines.axis.mark(plt, lines.x, lines.moved, columns)


class LossPlot(TimedPlot):
    log_scale = True  # the loss falls over orders of magnitude; linear squeezes the later part flat
    smoothing = True

    def draw(self, plt) -> None:
        state = self.state
        plt.title("loss per batch" + (" (log scale)" if self.log_scale else ""))
        columns = max(self.size.width - 10, 2)
        lines = loss_lines(state, columns, self.log_scale, self.smoothing)
        if lines is None:
            return
        draw_band(plt, lines, self.marker, "batch (min-max)", columns)
        bottom, top = lines.limits
        for marker in state.markers:  # labels at the foot of their line, clear of the legend
            plt.vline(marker.iteration, color="magenta")
            plt.text(marker.label, marker.iteration, bottom, color="magenta")
        value_axis(plt, bottom, top, self.log_scale, self.size.height)
        iteration_axis(plt, lines.span, self.size.width)
