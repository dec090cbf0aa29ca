"""A plotext plot that draws from MonitorState, sends only the cells that changed, and remembers what its
last redraw cost."""
from __future__ import annotations

import time

from rich.text import Span, Text
from textual_plotext import PlotextPlot

from ..state import MonitorState
from .cell_canvas import CellCanvas, text_lines

# --ascii: plotext's frame and tick characters, one for one, so the colour spans stay in place.
ASCII_FRAME = str.maketrans({"─": "-", "━": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+",
                             "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+",
                             "╯": "+", "•": "*", "·": ".", "→": ">", "↓": "v", "×": "x", "÷": "/"})


def to_ascii(text: Text) -> Text:
    """`text` with every character outside ASCII replaced by one that is not (box drawing by - | +)."""
    plain = text.plain.translate(ASCII_FRAME)
    if not plain.isascii():
        plain = "".join(c if c.isascii() else "*" for c in plain)
    result = Text(plain, style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    result.spans[:] = text.spans
    return result


def fewer_runs(text: Text) -> Text:
    """`text` drawn the same with fewer style runs: a blank takes the style of the character before it.

    Plotext colours the blanks between points differently from the points (no foreground), so a plot
    line is dozens of short runs, and each run costs the terminal a style sequence and a reset (about
    25 bytes). A blank shows only its background, so when that matches the previous character's, it
    can join that run. This about halves what a plot redraw writes.
    """
    plain = text.plain
    styles: list = [None] * len(plain)
    for span in text.spans:
        for i in range(span.start, min(span.end, len(plain))):
            styles[i] = span.style if styles[i] is None else styles[i] + span.style
    for i in range(1, len(plain)):
        before, style = styles[i - 1], styles[i]
        if plain[i] == " " and before is not None and style is not None and style != before \
                and not isinstance(style, str) and not isinstance(before, str) and style.bgcolor == before.bgcolor \
                and not (before.underline or before.reverse or before.strike or style.underline or style.reverse):
            styles[i] = before
    spans, start = [], 0
    for i in range(1, len(plain) + 1):
        if i == len(plain) or styles[i] != styles[start]:
            if styles[start] is not None:
                spans.append(Span(start, i, styles[start]))
            start = i
    result = Text(plain, style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    result.spans[:] = spans
    return result


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
        self.plt.clear_data()
        self.plt.clear_figure()
        self.draw(self.plt)
        text = fewer_runs(PlotextPlot.render(self))
        if self.ascii:
            text = to_ascii(text)
        lines = text_lines(text, self.app.console, *self.size)
        self.cost = time.perf_counter() - began
        return lines
