"""Per-batch loss, downsampled to about two points per column, with its EMA and change markers."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from ..state import MonitorState, downsample


class LossPlot(PlotextPlot):
    log_scale = False
    smoothing = True

    def __init__(self, state: MonitorState, **kwargs):
        super().__init__(**kwargs)
        self.state = state

    def render(self):
        plt, state = self.plt, self.state
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss" + (" (log)" if self.log_scale else ""))
        plt.xlabel("iteration")
        if state.losses:
            buckets = max(2 * (self.size.width - 10), 2)
            x, y = downsample(state.iterations, state.losses, buckets)
            plt.plot(x, y, marker="braille", color="cyan", label="batch loss")
            if self.smoothing:
                sx, sy = downsample(state.iterations, state.smoothed, buckets)
                plt.plot(sx, sy, marker="braille", color="orange", label="EMA")
            for marker in state.markers:
                plt.vline(marker.iteration, color="magenta")
                plt.text(marker.label, marker.iteration, float(max(y)), color="magenta")
            plt.yscale("log" if self.log_scale else "linear")
            integer_xticks(plt, x[0], x[-1])
        return super().render()


def integer_xticks(plt, low: float, high: float, count: int = 5) -> None:
    """Iteration ticks as whole numbers (plotext would print 605.1)."""
    ticks = sorted({int(round(low + (high - low) * k / (count - 1))) for k in range(count)})
    plt.xticks(ticks, [f"{t:,}" for t in ticks])
