"""A plotext plot that draws from MonitorState and remembers what its last redraw cost."""
from __future__ import annotations

import time

from rich.text import Text
from textual_plotext import PlotextPlot

from ..state import MonitorState

# --ascii: plotext's frame and tick characters, one for one, so the colour spans stay in place.
ASCII_FRAME = str.maketrans({"─": "-", "━": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+",
                             "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+",
                             "╯": "+", "•": "*", "·": ".", "→": ">", "×": "x", "÷": "/"})


def ascii_only(text: Text) -> Text:
    """`text` with every character outside ASCII replaced by one that is not (box drawing by - | +)."""
    plain = text.plain.translate(ASCII_FRAME)
    if not plain.isascii():
        plain = "".join(c if c.isascii() else "*" for c in plain)
    result = Text(plain, style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    result.spans[:] = text.spans
    return result


class TimedPlot(PlotextPlot):
    """Subclasses implement draw(plt); `cost` is the seconds the last render took (plotext is slow).

    `ascii_only`: markers are ASCII characters and the frame is drawn with - | + (the --ascii flag).
    """

    def __init__(self, state: MonitorState, ascii_only: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.ascii_only = ascii_only
        self.cost = 0.0

    def marker(self, char: str) -> str:
        """Braille dots (four rows by two per cell), or `char` when only ASCII is wanted."""
        return char if self.ascii_only else "braille"

    def draw(self, plt) -> None:
        raise NotImplementedError

    def render(self):
        began = time.perf_counter()
        self.plt.clear_data()
        self.plt.clear_figure()
        self.draw(self.plt)
        result = super().render()
        if self.ascii_only:
            result = ascii_only(result)
        self.cost = time.perf_counter() - began
        return result
