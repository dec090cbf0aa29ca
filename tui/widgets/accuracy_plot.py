"""Train and test accuracy at each evaluation (every epoch, and on demand)."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from ..state import MonitorState
from .loss_plot import integer_xticks


class AccuracyPlot(PlotextPlot):
    def __init__(self, state: MonitorState, **kwargs):
        super().__init__(**kwargs)
        self.state = state

    def render(self):
        plt, points = self.plt, self.state.accuracy
        plt.clear_data()
        plt.clear_figure()
        plt.title("accuracy")
        plt.xlabel("iteration")
        if points:
            x = [p[0] for p in points]
            plt.plot(x, [p[1] for p in points], marker="braille", color="green", label="train")
            plt.plot(x, [p[2] for p in points], marker="braille", color="red", label="test")
            plt.ylim(0, 1)
            integer_xticks(plt, x[0], max(x[-1], 1))
        return super().render()
