"""Train and test accuracy at each evaluation (every epoch, and on demand), in percent."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from ..state import MonitorState
from .plot_axes import iteration_axis, nice_ticks


class AccuracyPlot(PlotextPlot):
    def __init__(self, state: MonitorState, **kwargs):
        super().__init__(**kwargs)
        self.state = state

    def render(self):
        plt, state = self.plt, self.state
        plt.clear_data()
        plt.clear_figure()
        plt.title("accuracy %")
        if state.accuracy:
            x = [p[0] for p in state.accuracy]
            train = [100 * p[1] for p in state.accuracy]
            test = [100 * p[2] for p in state.accuracy]
            plt.plot(x, train, marker="braille", color="green", label="train")
            plt.plot(x, test, marker="braille", color="red", label="test")
            # Zoom on where the curves are now: the first score (chance) would flatten them.
            recent = (train[1:] + test[1:]) or (train + test)
            low = max(0.0, min(recent) - 2)
            plt.ylim(low, 100)
            ticks = nice_ticks(low, 100, count=4)
            plt.yticks(ticks, [f"{t:g}" for t in ticks])
            iteration_axis(plt, state.iterations[-1] if state.iterations else x[-1], self.size.width)
        return super().render()
