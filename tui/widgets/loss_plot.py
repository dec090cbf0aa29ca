"""Per-batch loss as a min/max band (two points per column), its EMA, and change markers."""
from __future__ import annotations

import numpy as np

from ..state import envelope
from .plot_axes import decade_ticks, iteration_axis
from .plot_values import YAxis
from .timed_plot import TimedPlot


class LossPlot(TimedPlot):
    log_scale = True  # the loss falls over orders of magnitude; linear squeezes the later part flat
    smoothing = True

    def draw(self, plt) -> None:
        state = self.state
        plt.title("loss per batch" + (" (log scale)" if self.log_scale else ""))
        if state.losses:
            columns = max(self.size.width - 10, 2)
            losses = np.asarray(state.losses, dtype=np.float64)
            axis = YAxis.fit([losses, state.smoothed] if self.smoothing else [losses], log=self.log_scale)
            x, y = envelope(state.iterations, axis.place(losses), columns)
            plt.plot(x, y, marker=self.marker("."), color="gray", label="batch (min-max)")
            shown = y
            if self.smoothing:
                sx, sy = envelope(state.iterations, axis.place(state.smoothed), columns, mean=True)
                plt.plot(sx, sy, marker=self.marker("*"), color="orange", label="EMA")
                shown = np.concatenate([y, sy])
            axis.mark(plt, state.iterations, losses, columns)
            bottom = float(min(y))  # labels at the foot of their line, clear of the legend
            for marker in state.markers:
                plt.vline(marker.iteration, color="magenta")
                plt.text(marker.label, marker.iteration, bottom, color="magenta")
            plt.yscale("log" if self.log_scale else "linear")
            if self.log_scale:
                decade_ticks(plt, shown.min(), shown.max(), self.size.height)
            iteration_axis(plt, state.iterations[-1], self.size.width)
