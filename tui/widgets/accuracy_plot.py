"""Train and test accuracy at each evaluation (every epoch, and on demand), in percent."""
from __future__ import annotations

import math

import numpy as np

from .plot_axes import iteration_axis, nice_ticks, x_span
from .plot_values import YAxis
from .timed_plot import TimedPlot


class AccuracyPlot(TimedPlot):
    def draw(self, plt) -> None:
        state = self.state
        plt.title("accuracy %")
        if state.accuracy:
            x = [p[0] for p in state.accuracy]
            scores = 100 * np.array([p[1:] for p in state.accuracy], dtype=np.float64).T  # rows train, test
            axis = YAxis.fit(scores, log=False)
            train, test = shown = axis.place(scores)
            plt.plot(x, train, marker=self.marker("+"), color="green", label="train")
            plt.plot(x, test, marker=self.marker("x"), color="red", label="test")
            axis.mark(plt, x + x, scores.ravel(), 2 * len(x))
            # Zoom on where the curves are now: the first score (chance) would flatten them. The bottom
            # snaps to a multiple of 5 so that it moves only when a score goes below it.
            recent = shown[:, 1:] if len(x) > 1 else shown
            low = max(0.0, 5 * math.floor((float(recent.min()) - 2) / 5))
            plt.ylim(low, 100)
            ticks = nice_ticks(low, 100, count=4)
            plt.yticks(ticks, [f"{t:g}" for t in ticks])
            # Every point inside the axis: plotext's legend fails on a series with none in view.
            last = max(state.losses.last_iteration or 0, x[-1])
            iteration_axis(plt, x_span(last, state.planned_iterations()), self.size.width)
