"""A plotext plot that draws from MonitorState and remembers what its last redraw cost."""
from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from ..state import MonitorState


class TimedPlot(PlotextPlot):
    """Subclasses implement draw(plt); `cost` is the seconds the last render took (plotext is slow)."""

    def __init__(self, state: MonitorState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.cost = 0.0

    def draw(self, plt) -> None:
        raise NotImplementedError

    def render(self):
        began = time.perf_counter()
        self.plt.clear_data()
        self.plt.clear_figure()
        self.draw(self.plt)
        result = super().render()
        self.cost = time.perf_counter() - began
        return result
