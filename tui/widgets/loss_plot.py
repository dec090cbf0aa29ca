"""Per-batch loss as a min/max band (two points per column), its EMA, and change markers."""
from __future__ import annotations

from ..state import envelope
from .plot_axes import iteration_axis
from .timed_plot import TimedPlot


class LossPlot(TimedPlot):
    log_scale = True  # the loss falls over orders of magnitude; linear squeezes the later part flat
    smoothing = True

    def draw(self, plt) -> None:
        state = self.state
        plt.title("loss per batch" + (" (log scale)" if self.log_scale else ""))
        if state.losses:
            columns = max(self.size.width - 10, 2)
            x, y = envelope(state.iterations, state.losses, columns)
            plt.plot(x, y, marker=self.marker("."), color="gray", label="batch (min-max)")
            if self.smoothing:
                sx, sy = envelope(state.iterations, state.smoothed, columns, mean=True)
                plt.plot(sx, sy, marker=self.marker("*"), color="orange", label="EMA")
            bottom = float(min(y))  # labels at the foot of their line, clear of the legend
            for marker in state.markers:
                plt.vline(marker.iteration, color="magenta")
                plt.text(marker.label, marker.iteration, bottom, color="magenta")
            plt.yscale("log" if self.log_scale else "linear")
            iteration_axis(plt, state.iterations[-1], self.size.width)
