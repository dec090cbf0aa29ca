"""Arrays drawn to fit a terminal, for the Backprop lesson: the shape decides the picture.

- a vector of class scores (10): one line per class, its number and a bar;
- a vector the size of the input (784): the 28x28 image, in half blocks;
- any other vector (50 hidden units): a strip, one cell per unit;
- a matrix whose rows are the inputs (W1, dW1: 784x50): one small image per column (unit);
- any other matrix: a heat map, two matrix rows per text row, the shorter side across.
Signed values are red (+) and blue (-), scaled by the largest |value|; with `ascii`, symbols instead.
"""
from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .digit_preview import digit_text
from .weight_images import LEVELS, signed_levels, signed_text

GAP = 1
ASCII_SIGNED = {True: "+#", False: "-="}  # weak, strong; by sign
BAR = {False: ("█", "·"), True: ("#", ".")}


def number(value: float) -> str:
    return f"{value:+.4g}" if value else "0"


def scale_note(values: np.ndarray, ascii: bool) -> Text:
    """The range of what a picture shows, and how to read its colours."""
    lo, hi = float(values.min(initial=0)), float(values.max(initial=0))
    key = "+ # positive, - = negative" if ascii else "red +, blue -"
    return Text(f"from {number(lo)} to {number(hi)} ({key}, scaled by the largest |value|)", style="dim")


def class_table(columns: dict[str, np.ndarray], class_names: tuple[str, ...], marked: dict[int, str],
                bar_of: str | None, ascii: bool, width: int = 24) -> Text:
    """One line per class: each named column's value, and a bar of column `bar_of` (signed: centred)."""
    name_width = max(len(n) for n in class_names)
    text = Text(no_wrap=True)
    text.append(" " * name_width + "".join(f" {name:>10}" for name in columns) + "\n", style="dim")
    bars = np.nan_to_num(columns[bar_of], posinf=0.0, neginf=0.0) if bar_of else None  # nan/inf: no bar
    biggest = float(np.abs(bars).max()) if bars is not None and bars.size else 0.0
    signed = bars is not None and bool((bars < 0).any())
    full, empty = BAR[ascii]
    for c, name in enumerate(class_names):
        text.append(f"{name:>{name_width}}", style="bold" if c in marked else "")
        for values in columns.values():
            text.append(f" {number(float(values[c])):>10}")
        if bars is not None:
            share = abs(float(bars[c])) / biggest if biggest else 0.0
            if signed:
                half = width // 2
                cells = round(share * half)
                left = full * cells if bars[c] < 0 else ""
                right = full * cells if bars[c] > 0 else ""
                text.append(" " + empty * (half - len(left)))
                text.append(left, style="blue")
                text.append("|", style="dim")
                text.append(right, style="red")
                text.append(empty * (half - len(right)))
            else:
                cells = round(share * width)
                text.append(" ")
                text.append(full * cells, style="cyan")
                text.append(empty * (width - cells), style="dim")
        if c in marked:
            text.append(f" {marked[c]}", style="bold")
        text.append("\n")
    text.rstrip()
    return text


def strip(values: np.ndarray, ascii: bool, biggest: float | None = None) -> Text:
    """One cell per value: red/blue by sign and shade by size (or symbols); only an exact 0 is blank ("·")."""
    biggest = float(np.abs(values).max()) if biggest is None else biggest
    levels = signed_levels(values, biggest)
    levels = np.where((levels == 0) & (values != 0), np.sign(values).astype(int), levels)  # blank means exactly 0
    text = Text(no_wrap=True)
    if ascii:
        for level in levels.tolist():
            text.append(" " if level == 0 else ASCII_SIGNED[level > 0][abs(level) > LEVELS // 2])
        return text
    for level in levels.tolist():
        text.append("█" if level else "·", style=_strip_style(level))
    return text


def _strip_style(level: int) -> str:
    if level == 0:
        return "dim"
    value = round(255 * (0.25 + 0.75 * abs(level) / LEVELS))
    return f"rgb({value},0,0)" if level > 0 else f"rgb(0,{value // 3},{value})"


def mask_strip(mask: np.ndarray, ascii: bool) -> Text:
    """Which units pass gradient: a filled cell for each unit whose input was > 0."""
    on, off = ("#", ".") if ascii else ("█", "·")
    text = Text(no_wrap=True)
    for passed in mask.tolist():
        text.append(on if passed else off, style="green" if passed else "dim")
    return text


def labelled_rows(rows: list[Text], width: int, notes: list[str] | None = None,
                  labels: list[str] | None = None) -> Group:
    """Strips, one per digit ("#1 ", "#2 ", ... or `labels`), each cut into lines that fit `width` (100 units
    at 80 columns take two lines), with an optional note after each."""
    lines = []
    for i, row in enumerate(rows):
        prefix = f"{labels[i] if labels else f'#{i + 1}'} "
        cells = max(10, width - len(prefix) - 1)
        for k, piece in enumerate(row.divide(range(cells, len(row), cells))):
            lines.append(Text.assemble(prefix if k == 0 else " " * len(prefix), piece, no_wrap=True))
        if notes:
            lines[-1].append(f" {notes[i]}")
    return Group(*lines)


def image(values: np.ndarray, image_shape: tuple[int, ...], ascii: bool, half: bool = False) -> Text:
    """A vector as an image: grey ink for pixels (no negatives), red/blue for signed values."""
    picture = values.reshape(image_shape)
    if (picture < 0).any():
        return signed_text(picture, ascii, half)
    return digit_text(picture, ascii)


def images_grid(pictures: list[RenderableType], captions: list[str], width: int, picture_width: int) -> Table:
    columns = max(1, (width + GAP) // (picture_width + GAP))
    grid = Table.grid(padding=(0, GAP, 0, 0))
    for _ in range(columns):
        grid.add_column()
    cells = [Group(p, Text(c, style="dim")) for p, c in zip(pictures, captions)]
    for r in range(0, len(cells), columns):
        grid.add_row(*cells[r : r + columns])
    return grid


def heat_map(matrix: np.ndarray, ascii: bool, width: int) -> Text:
    """A matrix as signed half blocks, two matrix rows per text row: its longer side across when that fits
    in `width` (W2, 50x10, becomes 50 wide and 5 lines tall), else down."""
    rows, columns = matrix.shape
    longer_across = max(rows, columns) <= width
    return signed_text(matrix.T if (columns >= rows) != longer_across else matrix, ascii, half=False)
