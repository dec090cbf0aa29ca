"""A plotext plot that draws from MonitorState, sends only the cells that changed, and remembers what its
last redraw cost."""
from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from ..state import MonitorState
from .ansi_frame import ansi_strips
from .cell_canvas import CellCanvas


class TimedPlot(CellCanvas, PlotextPlot):
    """Subclasses implement draw(plt); `cost` is the seconds the last redraw took (plotext is slow).

    Redrawn by `redraw()` (not `refresh()`): the frame is built at once and only its changed cells sent.
    `ascii`: markers are ASCII characters and the frame is drawn with - | + (the --ascii flag).
    """

    def __init__(self, state: MonitorState, ascii: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.ascii = ascii
        self.cost = 0.0

    def on_mount(self) -> None:  # (PlotextPlot's on_mount registers the theme: after it, draw in its colours)
        self.app.theme_changed_signal.subscribe(self, lambda _: self.call_later(self.redraw))

    def marker(self, char: str) -> str:
        """Braille dots (four rows by two per cell), or `char` when only ASCII is wanted."""
        return char if self.ascii else "braille"

    def draw(self, plt) -> None:
        raise NotImplementedError

    def frame(self):
        began = time.perf_counter()
        plot, (width, height) = self.plt, self.size
        plot.clear_data()
        plot.clear_figure()
        self.draw(plot)
        # What PlotextPlot.render does, to the string (textual-plotext, pinned below 2, has no public way).
        plot.plotsize(width, height)
        plot._set_size(width, height)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        lines = ansi_strips(plot.build(), width, height, self.ascii)
        self.cost = time.perf_counter() - began
        return lines
