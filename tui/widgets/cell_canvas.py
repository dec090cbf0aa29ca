"""A widget that sends the terminal only the cells that changed since its last frame.

Textual (8.2) writes a partial refresh of a widget's line from the widget's left edge up to the last
cell asked for (Textualize/textual#5625), so a plot refreshed where a curve grows, at its right edge,
resent nearly whole rows. The compositor does cut lines at widget edges; so a `CellCanvas` is drawn by
narrow `CanvasStrip` children, side by side, each showing its columns of the canvas's frame. A new
frame is compared with the last one cell by cell, and only the (strip, row) pieces that differ are
refreshed. Anything that changes the whole picture (a rescale, a resize, a theme) simply differs
everywhere, so there is no separate full-redraw path to get wrong.
"""
from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

Cells = list[tuple[str, object]]  # (character, what of its style shows)
NULL = Style.null()


def cells(strip: Strip) -> Cells:
    """A line as what each cell shows: its character and style, a blank's background only (its foreground
    and bold do not show, so a blank whose only change is there is not resent)."""
    return [(char, look(char, segment.style)) for segment in strip for char in segment.text]


def look(char: str, style: Style | None):
    if char == " " and style is not None and not (style.underline or style.reverse or style.strike or style.overline):
        return style.bgcolor
    return style


def changed_pieces(old: list[Strip], new: list[Strip], width: int, strip_width: int) -> list[tuple[int, int]]:
    """(strip index, row) of every piece of `strip_width` cells whose cells differ between two frames;
    every piece when the frames differ in size. Equal rows (most, between two frames) are skipped whole."""
    strips = range(-(-width // strip_width))
    if len(old) != len(new) or any(a.cell_length != b.cell_length for a, b in zip(old, new)):
        return [(s, y) for s in strips for y in range(len(new))]
    pieces = []
    for y, (a, b) in enumerate(zip(old, new)):
        if a != b and (a := cells(a)) != (b := cells(b)):
            pieces += [(s, y) for s in strips
                       if a[s * strip_width:(s + 1) * strip_width] != b[s * strip_width:(s + 1) * strip_width]]
    return pieces


def text_lines(renderable, console, width: int, height: int | None) -> list[Strip]:
    """`renderable` drawn `width` cells wide (Text wraps at words, as a Static's would) as strips of exactly
    `width` cells: `height` of them, or as many as it takes (None). Every segment has a style (Textual's
    filters, e.g. for NO_COLOR, read every segment's)."""
    options = console.options.update(width=width, height=height)
    lines = console.render_lines(renderable, options, pad=True, new_lines=False)
    if height is not None:
        lines = lines[:height] + [[Segment(" " * width)]] * (height - len(lines))
    return [Strip([Segment(text, style or NULL) for text, style, _ in line], width) for line in lines]


class CanvasStrip(Widget):
    """Columns x0 to x0 + width of its canvas's frame."""

    DEFAULT_CSS = "CanvasStrip { height: 1fr; }"

    def __init__(self, canvas: CellCanvas, x0: int, width: int):
        super().__init__()
        self.canvas, self.x0 = canvas, x0
        self.styles.width = width

    def render_line(self, y: int) -> Strip:
        lines = self.canvas.lines
        if y >= len(lines):
            return Strip.blank(self.size.width, NULL)
        return lines[y].crop(self.x0, self.x0 + self.size.width)


class CellCanvas(Widget):
    """Subclasses build a frame (`frame()`: one Strip per row, the widget's size) and call `redraw()`.

    `strip_width`: the cells one refresh of a changed row may send; narrower strips send less per
    change and cost more widgets. `pieces_sent` counts the (strip, row) pieces refreshed (tests, bench).
    """

    DEFAULT_CSS = "CellCanvas { layout: horizontal; }"
    strip_width = 8

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lines: list[Strip] = []
        self._strips: list[CanvasStrip] = []
        self.pieces_sent = 0

    def frame(self) -> list[Strip]:
        raise NotImplementedError

    def render(self) -> Text:
        return Text()  # covered by the strips

    def on_resize(self) -> None:
        width = self.size.width
        if sum(strip.styles.width.value for strip in self._strips) != width:
            for strip in self._strips:
                strip.remove()
            self._strips = [CanvasStrip(self, x0, min(self.strip_width, width - x0))
                            for x0 in range(0, width, self.strip_width)]
            self.mount_all(self._strips)
        self.redraw()

    def redraw(self) -> None:
        """Build a new frame and refresh the pieces of the screen where it differs from the last one."""
        width, height = self.size
        if not width or not height or not self._strips:
            return  # not laid out yet: on_resize draws
        lines = self.frame()
        base = self.rich_style  # the widget's colours under the frame's own (Line API strips get no other)
        lines = [line.apply_style(base) for line in lines]
        pieces = changed_pieces(self.lines, lines, width, self.strip_width)
        self.lines = lines
        for s, y in pieces:
            strip = self._strips[s]
            strip.refresh(Region(0, y, strip.size.width or self.strip_width, 1))
        self.pieces_sent += len(pieces)
