"""What each hidden unit looks for: the first layer's weights as images, drawn like the digits.

Each unit's 784 weights are its 28x28 image, shown at half resolution (2x2
pixels averaged, so 14x14 pixels in 14x7 half-block cells) and scaled by
that unit's largest |weight|: red where a lit pixel excites the unit, blue
where it inhibits it, black where it does not matter.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from engine.events import WeightImages

from .cell_canvas import CellCanvas, text_lines
from .digit_preview import half_blocks

LEVELS = 8  # shades on each side of zero
GAP = 1


@lru_cache(maxsize=(2 * LEVELS + 1) ** 2)
def _cell_style(top: int, bottom: int) -> Style:
    return Style(color=_color(top), bgcolor=_color(bottom))


def _color(level: int) -> Color:
    """-LEVELS..LEVELS as blue..black..red."""
    value = round(255 * abs(level) / LEVELS)
    return Color.from_rgb(value, 0, 0) if level > 0 else Color.from_rgb(0, value // 3, value)


def halve(image: np.ndarray) -> np.ndarray:
    """2x2 means (an odd row or column is dropped)."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    return image[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def signed_levels(values: np.ndarray, biggest: float | None = None) -> np.ndarray:
    """-LEVELS..LEVELS for values scaled by `biggest` (default: their largest |value|)."""
    top = np.finfo(np.float64).max
    values = np.nan_to_num(np.asarray(values, np.float64), nan=0.0, posinf=top, neginf=-top)
    biggest = float(np.abs(values).max(initial=0)) if biggest is None or not np.isfinite(biggest) else biggest
    with np.errstate(over="ignore", invalid="ignore"):  # a blown-up value is drawn as the strongest shade
        return np.clip(np.nan_to_num(np.rint(values / (biggest or 1.0) * LEVELS)), -LEVELS, LEVELS).astype(int)


def signed_text(image: np.ndarray, ascii: bool = False, half: bool = True, biggest: float | None = None) -> Text:
    """Red/blue half blocks scaled by `biggest` (default: the image's largest |value|), or with `ascii`
    # + for positive and = - for negative; `half`: at half size, 2x2 pixels averaged."""
    biggest = float(np.abs(image).max(initial=0)) if biggest is None else biggest
    levels = signed_levels(halve(image) if half else image, biggest)
    if not ascii:
        return half_blocks(levels, _cell_style)
    if len(levels) % 2:
        levels = np.vstack([levels, np.zeros((1, levels.shape[1]), dtype=int)])
    pairs = np.rint((levels[0::2] + levels[1::2]) / 2).astype(int)  # two pixel rows per text row
    symbol = np.select([pairs >= 5, pairs >= 2, pairs <= -5, pairs <= -2], ["#", "+", "=", "-"], " ")
    return Text("\n".join("".join(row) for row in symbol), no_wrap=True)


def weight_text(image: np.ndarray, ascii: bool = False) -> Text:
    """A unit's weights at half size, scaled by the largest |weight|."""
    return signed_text(image, ascii, half=True)


class WeightImagesView(CellCanvas):
    """A page of the first layer's weight images; a redraw sends only the cells that changed."""

    def __init__(self, ascii: bool = False, placeholder: str = "The first layer's weights, one image per hidden "
                 "unit, appear once training runs.", **kwargs):
        super().__init__(**kwargs)
        self.ascii = ascii
        self.placeholder = placeholder
        self.weights: WeightImages | None = None
        self.page = 0

    def show(self, weights: WeightImages | None) -> None:
        self.weights = weights
        self.page = min(self.page, self.pages - 1)
        self.redraw()

    @property
    def grid(self) -> tuple[int, int]:
        if self.weights is None:
            return 1, 1  # nothing to page through
        images = self.weights.images
        height, width = images.shape[1] // 2, images.shape[2] // 2
        columns = max(1, (self.size.width + GAP) // (width + GAP))
        count = len(images)
        widest = self.header(count, count, count)  # wraps onto two lines at 80 columns
        heading = len(widest.wrap(self.app.console, max(self.size.width, 1)))
        rows = max(1, (self.size.height - heading) // ((height + 1) // 2 + 1))
        return columns, rows

    @property
    def pages(self) -> int:
        count = 0 if self.weights is None else len(self.weights.images)
        columns, rows = self.grid
        return max(1, -(-count // (columns * rows)))

    def next_page(self, step: int = 1) -> None:
        self.page = (self.page + step) % self.pages
        self.redraw()

    def frame(self):
        return text_lines(self.picture(), self.app.console, *self.size)

    def picture(self):
        if self.weights is None:
            return Text(self.placeholder, style="dim")
        columns, rows = self.grid
        per_page = columns * rows
        images = self.weights.images
        start = self.page * per_page
        shown = range(start, min(start + per_page, len(images)))
        grid = Table.grid(padding=(0, GAP, 0, 0))
        for _ in range(columns):
            grid.add_column()
        cells = [Group(weight_text(images[u], self.ascii), Text(f"unit {u + 1}", style="dim")) for u in shown]
        for r in range(0, len(cells), columns):
            grid.add_row(*cells[r : r + columns])
        return Group(self.header(start + 1, shown.stop, len(images)), grid)

    def header(self, first: int, last: int, count: int) -> Text:
        """What the images are, and which of the `count` units are shown (1-based, inclusive)."""
        return Text(f"what each hidden unit looks for: its weights at iteration {self.weights.iteration:,} "
                    f"({'#+ positive, =- negative' if self.ascii else 'red +, blue -'}) - units {first}-{last} "
                    f"of {count} - n/p", style="dim")
