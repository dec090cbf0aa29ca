"""A renderable drawn once into strips, at its own height: a long page (the Backprop lesson, the Lab) in a
scrolling container.

A Static holding the same rich renderable (tables of digit images) had rich render it again for every
line Textual asked for: about 3 s per key press on the Lab's error map. Here rich renders it once per
change or resize, and, being a canvas, only the cells that changed go to the terminal.
"""
from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from .cell_canvas import CellCanvas, text_lines


class Picture(CellCanvas):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.renderable: RenderableType = Text("")
        self.strips = []
        self.styles.height = 1

    def show(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self.redraw()

    def redraw(self) -> None:
        width = self.size.width
        if width:
            self.strips = text_lines(self.renderable, self.app.console, width, None)
            self.styles.height = max(1, len(self.strips))
        super().redraw()

    def frame(self):
        return self.strips
