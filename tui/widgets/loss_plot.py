"""Per-batch loss as a min/max band (two points per column), its EMA, and change markers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.history import Summary

from ..state import MonitorState
from .plot_axes import decade_ticks, iteration_axis
from .plot_values import YAxis
from .timed_plot import TimedPlot


@dataclass(frozen=True)
class LossLines:
    """What the loss plot draws, placed on its axis: about two points per column, however long the run."""

    axis: YAxis
    x: np.ndarray  # the batches' band: each column's min then max (a lone batch once)
    y: np.ndarray
    moved_x: np.ndarray  # for the axis's marks: at each entry, its min when the axis moved that (0 on a log
    moved: np.ndarray  # axis), else its max (moved when nan or inf)
    ema_x: np.ndarray | None  # the EMA: each column's mean (None without the EMA line)
    ema_y: np.ndarray | None
    last_iteration: int


def loss_lines(state: MonitorState, columns: int, log: bool, smoothing: bool) -> LossLines | None:
    """The data step of a redraw: a query of the state's loss summaries, so it costs O(columns)."""
    first, last = state.losses.first_iteration, state.losses.last_iteration
    if last is None:
        return None
    batches = state.losses.query(first, last, columns)
    ema = state.smoothed.query(first, last, columns) if smoothing else None
    axis = YAxis.fit([batches.low, batches.high] + ([ema.low, ema.high] if ema is not None else []), log=log)
    x, y = band(batches)
    moved = np.where(axis.place(batches.low) != batches.low, batches.low, batches.high)  # (nan != nan: moved)
    if ema is None:
        return LossLines(axis, x, axis.place(y), batches.iteration, moved, None, None, last)
    return LossLines(axis, x, axis.place(y), batches.iteration, moved, ema.iteration, axis.place(ema.mean), last)


def band(summary: Summary) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's min then max at its iteration; an entry of one point, once. Drawn as one line, the
    min/max pairs show the batch-to-batch noise that an average would hide."""
    pairs = summary.count > 1
    keep = np.column_stack([np.ones_like(pairs), pairs]).ravel()
    return np.repeat(summary.iteration, 1 + pairs), np.column_stack([summary.low, summary.high]).ravel()[keep]


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
        plt.plot(lines.x, lines.y, marker=self.marker("."), color="gray", label="batch (min-max)")
        shown = lines.y
        if lines.ema_y is not None:
            plt.plot(lines.ema_x, lines.ema_y, marker=self.marker("*"), color="orange", label="EMA")
            shown = np.concatenate([lines.y, lines.ema_y])
        lines.axis.mark(plt, lines.moved_x, lines.moved, columns)
        bottom = float(min(lines.y))  # labels at the foot of their line, clear of the legend
        for marker in state.markers:
            plt.vline(marker.iteration, color="magenta")
            plt.text(marker.label, marker.iteration, bottom, color="magenta")
        plt.yscale("log" if self.log_scale else "linear")
        if self.log_scale:
            decade_ticks(plt, shown.min(), shown.max(), self.size.height)
        iteration_axis(plt, lines.last_iteration, self.size.width)
