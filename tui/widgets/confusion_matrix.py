"""The test set's confusion matrix: counts shaded by their share of the true class; a cell can be chosen.

Rows are the true classes, columns the predicted ones. The diagonal (right)
is shaded green, the rest (mistakes) red, each by the share of its row, so a
class the network confuses stands out whatever the class sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .ansi_frame import ascii_text

CELL = 5  # columns per count: up to 9999 (MNIST's test classes hold about 1,000)
NAME = 6  # columns for a class name (Fashion-MNIST's are cut: "T-shir", "Trouse", ...)
SHADES = 6  # steps of shading by share of the row


def shade(share: float, right: bool) -> str:
    """A background for a cell holding `share` of its row: darker for less, none for nothing."""
    if share <= 0:
        return ""
    step = min(SHADES, 1 + int(share * SHADES))
    if right:
        return f"on rgb(0,{40 + 25 * step},0)"
    return f"on rgb({60 + 32 * step},0,0)"


def render_matrix(counts: np.ndarray, class_names: tuple[str, ...], cursor: tuple[int, int] | None) -> Text:
    classes = len(counts)
    text = Text(no_wrap=True)
    text.append("true ↓ predicted →\n", style="dim")
    text.append(" " * NAME)
    for j in range(classes):
        text.append(f"{class_names[j][:CELL - 1]:>{CELL}}", style="bold")
    text.append(f"{'right':>{CELL + 2}}\n", style="bold")
    rows = counts.sum(axis=1)
    for i in range(classes):
        text.append(f"{class_names[i][:NAME - 1]:<{NAME}}", style="bold")
        for j in range(classes):
            share = counts[i, j] / rows[i] if rows[i] else 0.0
            style = shade(share, i == j)
            if cursor == (i, j):
                style += " reverse bold"
            text.append(f"{counts[i, j]:>{CELL}}", style=style.strip())
        recall = f"{counts[i, i] / rows[i]:.0%}" if rows[i] else "-"
        text.append(f"{recall:>{CELL + 2}}\n")
    return text


class ConfusionMatrix(Widget, can_focus=True):
    """Arrows move the cursor cell; Enter asks for its digits (a CellChosen message)."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Confusion: row up", show=False),
        Binding("down", "move(1, 0)", "Confusion: row down", show=False),
        Binding("left", "move(0, -1)", "Confusion: column left", show=False),
        Binding("right", "move(0, 1)", "Confusion: column right", show=False),
        Binding("enter", "choose", "Confusion: show the digits of this cell", show=False),
    ]

    @dataclass
    class CellChosen(Message):
        label: int
        prediction: int

    cursor = reactive((0, 1))  # the first off-diagonal cell: a mistake

    def __init__(self, placeholder: str = "The confusion matrix appears with the first score of the test set "
                 "(at each epoch's end, or press e).", ascii: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.placeholder = placeholder
        self.ascii = ascii  # --ascii: the arrows of the header as v and >
        self.counts: np.ndarray | None = None
        self.class_names: tuple[str, ...] = tuple("0123456789")
        self.iteration = 0

    def show(self, counts: np.ndarray, class_names: tuple[str, ...], iteration: int) -> None:
        self.counts, self.class_names, self.iteration = counts, class_names, iteration
        self.refresh(layout=True)  # its height follows its content

    def render(self):
        if self.counts is None:
            return Text(self.placeholder, style="dim")
        total = int(self.counts.sum())
        right = int(np.trace(self.counts))
        title = Text(f"confusion on {total:,} test digits at iteration {self.iteration:,}: "
                     f"{right / total:.2%} right · arrows + Enter: a cell's digits\n", style="bold")
        text = title + render_matrix(self.counts, self.class_names, self.cursor if self.has_focus else None)
        return ascii_text(text) if self.ascii else text

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, rows: int, columns: int) -> None:
        classes = len(self.class_names)
        row, column = self.cursor
        self.cursor = ((row + rows) % classes, (column + columns) % classes)

    def action_choose(self) -> None:
        if self.counts is not None:
            self.post_message(self.CellChosen(*self.cursor))
