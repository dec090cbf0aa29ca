"""Textual 8 sends a partly refreshed line from the left edge of the widget (Textualize/textual#5625).

`ChopsUpdate.render_segments` writes each widget's piece of a refreshed line from the piece's start
(`strip.crop(0, ...)`), not from the start of the refreshed span, and includes a piece that begins right
where the span ends (as nothing). So refreshing one cell at column 99 of a 100-cell widget resent the
99 cells before it. `crop_refreshed_spans()` replaces that method with one that sends exactly the
refreshed cells; it is applied once, when tui/widgets/cell_canvas.py (which relies on it) is imported.
`tests/tui/test_partial_refresh.py` plays what the app writes on a terminal emulator and checks the
screen against a full redraw, so a Textual that changes this code fails there, not on a user's screen.
"""
from __future__ import annotations

from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate  # private: the only place a partial update becomes bytes


def render_segments(self: ChopsUpdate, console: Console) -> str:
    """Textual's ChopsUpdate.render_segments, cropped to each span's columns [x1, x2)."""
    sequences: list[str] = []
    append = sequences.append
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(self.chop_ends[y], self.chops[y].items()):
            if strip is None or x >= x2 or end <= x1:
                continue
            start = max(x, x1)
            if start > x or end > x2:
                strip = strip.crop(start - x, min(end, x2) - x)
            append(Control.move_to(start, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def crop_refreshed_spans() -> None:
    ChopsUpdate.render_segments = render_segments
