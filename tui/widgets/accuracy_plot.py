"""Train and test accuracy at each evaluation (every epoch, and on demand), in percent."""
from __future__ import annotations

from .plot_axes import iteration_axis, nice_ticks
from .timed_plot import TimedPlot


class AccuracyPlot(TimedPlot):
    def draw(self, plt) -> None:
        state = self.state
        plt.title("accuracy %")
        if state.accuracy:
            x = [p[0] for p in state.accuracy]
            train = [100 * p[1] for p in state.accuracy]
            test = [100 * p[2] for p in state.accuracy]
            plt.plot(x, train, marker=self.marker("+"), color="green", label="train")
            plt.plot(x, test, marker=self.marker("x"), color="red", label="test")
            # Zoom on where the curves are now: the first score (chance) would flatten them.
            recent = (train[1:] + test[1:]) or (train + test)
            low = max(0.0, min(recent) - 2)
            plt.ylim(low, 100)
            ticks = nice_ticks(low, 100, count=4)
            plt.yticks(ticks, [f"{t:g}" for t in ticks])
            # Every point inside the axis: plotext's legend fails on a series with none in view.
            iteration_axis(plt, max(state.iterations[-1] if state.iterations else 0, x[-1]), self.size.width)
