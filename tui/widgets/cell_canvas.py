"""A widget that sends the terminal only the cells that changed since its last frame.

A new frame (`frame()`: one Strip per row) is compared with the last one, row by row and, where rows
differ, cell by cell; only the runs of changed cells are refreshed (runs a few cells apart are sent as
one: a cursor move costs about as much). Textual 8 would resend each refreshed line from the widget's left
edge (Textualize/textual#5625), which tui/widgets/chops_patch.py corrects. Anything that changes the
whole picture (a rescale, a resize, a theme) simply differs everywhere, so there is no separate
full-redraw path to get wrong.
"""
from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from .chops_patch import crop_refreshed_spans

crop_refreshed_spans()

Cells = list[tuple[str, object]]  # (character, what of its style shows)
NULL = Style.null()
JOIN = 4  # changed runs at most this many unchanged cells apart are sent as one (a cursor move is ~8 bytes)


def cells(strip: Strip) -> Cells:
    """A line as what each cell shows: its character and style, a blank's background only (its foreground
    and bold do not show, so a blank whose only change is there is not resent)."""
    return [(char, look(char, segment.style)) for segment in strip for char in segment.text]


def look(char: str, style: Style | None):
    if char == " " and style is not None and not (style.underline or style.reverse or style.strike or style.overline):
        return style.bgcolor
    return style


def changed_runs(old: list[Strip], new: list[Strip], width: int) -> list[tuple[int, int, int]]:
    """(row, first column, end column) of every run of cells that differ between two frames; whole rows
    when the frames differ in size. Equal rows (most, between two frames) are skipped whole."""
    if len(old) != len(new) or any(a.cell_length != b.cell_length for a, b in zip(old, new)):
        return [(y, 0, width) for y in range(len(new))]
    runs = []
    for y, (a, b) in enumerate(zip(old, new)):
        if a == b or (a := cells(a)) == (b := cells(b)):
            continue
        changed = [x for x, (p, q) in enumerate(zip(a, b)) if p != q]
        start = previous = changed[0]
        for x in changed[1:]:
            if x - previous > JOIN + 1:
                runs.append((y, start, previous + 1))
                start = x
            previous = x
        runs.append((y, start, previous + 1))
    return runs


def text_lines(renderable, console, width: int, height: int | None) -> list[Strip]:
    """`renderable` drawn `width` cells wide (Text wraps at words, as a Static's would) as strips of exactly
    `width` cells: `height` of them, or as many as it takes (None). Every segment has a style (Textual's
    filters, e.g. for NO_COLOR, read every segment's)."""
    options = console.options.update(width=width, height=height)
    lines = console.render_lines(renderable, options, pad=True, new_lines=False)
    if height is not None:
        lines = lines[:height] + [[Segment(" " * width)]] * (height - len(lines))
    return [Strip([Segment(text, style or NULL) for text, style, _ in line], width) for line in lines]


class CellCanvas(Widget):
    """Subclasses build a frame (`frame()`: one Strip per row, the widget's size) and call `redraw()`.

    `cells_sent` counts the cells refreshed (tests, bench).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lines: list[Strip] = []
        self.cells_sent = 0

    def frame(self) -> list[Strip]:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        return self.lines[y] if y < len(self.lines) else Strip.blank(self.size.width, NULL)

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Build a new frame and refresh the runs of cells where it differs from the last one."""
        width, height = self.size
        if not width or not height:
            return  # not laid out yet: on_resize draws
        lines = self.frame()
        base = self.rich_style  # the widget's colours under the frame's own (Line API strips get no other)
        lines = [line.apply_style(base) for line in lines]
        runs = changed_runs(self.lines, lines, width)
        self.lines = lines
        for y, start, end in runs:
            self.refresh(Region(start, y, end - start, 1))
        self.cells_sent += sum(end - start for _, start, end in runs)
