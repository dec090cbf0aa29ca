"""A grid of test digits in half-block characters, with label, prediction and confidence.

Each character cell shows two pixels: the upper half block "▀" takes the top
pixel as its colour and the bottom pixel as its background, so a 28x28 digit
takes 28x14 cells. With `ascii` (--ascii) each cell is one character of
an ASCII ramp from blank to "@" for the mean of its two pixels, with no colour,
so digits read on any terminal and font; captions and header are ASCII too.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.events import Samples

GRAY_LEVELS = 16  # shades per pixel: enough for digits, and far fewer style runs to draw
GAP = 1  # columns between digits
CAPTION_ROWS = 1
ASCII_RAMP = " .:-=+*#%@"  # from paper to ink


@lru_cache(maxsize=GRAY_LEVELS * GRAY_LEVELS)
def _cell_style(top: int, bottom: int) -> Style:
    scale = 255 / (GRAY_LEVELS - 1)
    t, b = round(top * scale), round(bottom * scale)
    return Style(color=Color.from_rgb(t, t, t), bgcolor=Color.from_rgb(b, b, b))


def digit_text(image: np.ndarray, ascii: bool = False) -> Text:
    """A (height, width) image with values in [0, 1] or 0-255 as half-block text (or an ASCII ramp)."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.max(initial=0) > 1:
        pixels = pixels / 255
    if ascii:
        return ascii_digit_text(pixels)
    levels = np.clip(np.rint(pixels * (GRAY_LEVELS - 1)), 0, GRAY_LEVELS - 1).astype(int)
    return half_blocks(levels, _cell_style)


def half_blocks(levels: np.ndarray, cell_style) -> Text:
    """Rows of integer levels as "▀" cells: cell_style(top, bottom) colours each (an odd last row gets 0s)."""
    if len(levels) % 2:
        levels = np.vstack([levels, np.zeros((1, levels.shape[1]), dtype=int)])
    text = Text(no_wrap=True)
    for r in range(0, len(levels), 2):
        if r:
            text.append("\n")
        for top, bottom in zip(levels[r], levels[r + 1]):
            text.append("▀", cell_style(int(top), int(bottom)))
    return text


def ascii_digit_text(pixels: np.ndarray) -> Text:
    """Two pixel rows per text row, as for the half blocks: each cell the ramp character of their mean."""
    if len(pixels) % 2:
        pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]))])
    pairs = (pixels[0::2] + pixels[1::2]) / 2
    index = np.clip(np.rint(pairs * (len(ASCII_RAMP) - 1)), 0, len(ASCII_RAMP) - 1).astype(int)
    return Text("\n".join("".join(ASCII_RAMP[i] for i in row) for row in index), no_wrap=True)


class DigitPreview(Widget):
    """Pages through the latest Samples event; `selected` indexes the visible (filtered) digits."""

    page = reactive(0)
    selected = reactive(0)
    mistakes_only = reactive(False)

    def __init__(self, ascii: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.ascii = ascii
        self.samples: Samples | None = None
        self.class_names: tuple[str, ...] = tuple("0123456789")
        self.title: str | None = None  # what a chosen set of digits is (a confusion cell, the worst mistakes)

    # ---- model ------------------------------------------------------------------------------

    def set_samples(self, samples: Samples | None, class_names: tuple[str, ...], title: str | None = None) -> None:
        """Show `samples`: the latest preview digits, or (with a `title`) a chosen set of test digits."""
        if title != self.title:
            self.page = self.selected = 0
        self.samples, self.class_names, self.title = samples, class_names, title
        self._clamp()
        self.refresh()

    @property
    def visible(self) -> np.ndarray:
        """Indices into the samples that are shown: all, or only the mistakes."""
        if self.samples is None:
            return np.arange(0)
        if self.mistakes_only:
            return np.flatnonzero(self.samples.predictions != self.samples.labels)
        return np.arange(len(self.samples.labels))

    @property
    def grid(self) -> tuple[int, int]:
        """(columns, rows) of digits that fit, at least 1 x 1."""
        width = self.samples.images.shape[2] if self.samples is not None else 28
        height = (self.samples.images.shape[1] + 1) // 2 if self.samples is not None else 14
        columns = max(1, (self.size.width + GAP) // (width + GAP))
        rows = max(1, self.size.height // (height + CAPTION_ROWS + 1))
        return columns, rows

    @property
    def page_size(self) -> int:
        columns, rows = self.grid
        return columns * rows

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.visible) // self.page_size))

    def selected_index(self) -> int | None:
        """Index into the samples of the selected digit, or None when nothing is shown."""
        visible = self.visible
        return int(visible[self.selected]) if len(visible) else None

    def chosen(self, n: int) -> Samples | None:
        """The selected digit and the n - 1 shown after it (fewer when fewer are shown); None without any."""
        visible = self.visible
        if not len(visible):
            return None
        picked = visible[(self.selected + np.arange(min(n, len(visible)))) % len(visible)]
        s = self.samples
        places = picked if s.indices is None else s.indices[picked]
        return Samples(s.images[picked], s.labels[picked], s.predictions[picked], s.probabilities[picked],
                       s.iteration, places)

    def next_page(self, step: int = 1) -> None:
        self.page = (self.page + step) % self.pages
        self.selected = min(self.page * self.page_size, max(len(self.visible) - 1, 0))

    def move(self, step: int) -> None:
        """Move the selection by `step` digits, turning the page at the edges."""
        if len(self.visible):
            self.selected = (self.selected + step) % len(self.visible)
            self.page = self.selected // self.page_size

    def toggle_mistakes(self) -> None:
        self.mistakes_only = not self.mistakes_only
        self.page = self.selected = 0

    def _clamp(self) -> None:
        count = len(self.visible)
        self.selected = min(self.selected, max(count - 1, 0))
        self.page = min(self.page, self.pages - 1)

    def on_resize(self) -> None:
        self._clamp()
        self.page = self.selected // self.page_size

    # ---- view -------------------------------------------------------------------------------

    def render(self):
        samples = self.samples
        if samples is None:
            return Text("Digits appear after the first evaluation (press e, or space to start).", style="dim")
        visible = self.visible
        if not len(visible):
            empty = "No mistakes among these digits." if self.mistakes_only else "No digits."
            return Text(f"{self.title}: {empty} (Esc: back to all)" if self.title else empty, style="dim")
        columns, _ = self.grid
        start = self.page * self.page_size
        shown = visible[start : start + self.page_size]
        grid = Table.grid(padding=(0, GAP, 1, 0))
        for _ in range(columns):
            grid.add_column()
        cells = [self._cell(int(i), start + k == self.selected) for k, i in enumerate(shown)]
        for r in range(0, len(cells), columns):
            grid.add_row(*cells[r : r + columns])
        what = "mistakes" if self.mistakes_only else "test digits"
        among = f" (in the first {len(samples.labels)})" if self.mistakes_only and samples.indices is None else ""
        if self.title:
            what = f"{self.title} ({'mistakes ' if self.mistakes_only else ''}Esc: back to all)"
        header = Text(f"{what} {start + 1}-{start + len(shown)} of {len(visible)}{among} "
                      f"{'-' if self.ascii else '·'} page {self.page + 1}/{self.pages}", style="dim")
        return Group(header, grid)

    def _cell(self, i: int, selected: bool) -> Group:
        s = self.samples
        label, prediction = int(s.labels[i]), int(s.predictions[i])
        confidence = float(s.probabilities[i, prediction])
        wrong = label != prediction
        names = self.class_names
        mark, arrow = ("x" if wrong else "+", "->") if self.ascii else ("✗" if wrong else "✓", "→")
        caption = f"{mark} {names[label]}{arrow}{names[prediction]} {confidence:.0%}"
        width = s.images.shape[2]
        style = ("bold red" if wrong else "green") + (" reverse" if selected else "")
        return Group(digit_text(s.images[i], self.ascii), Text(caption[:width].ljust(width), style=style, no_wrap=True))
