"""The one rule for values an axis cannot place: every plotted y goes through a YAxis.

plotext takes log10 of each value on a log axis, so a batch loss of exactly 0.0 (float32 rounds a
confident batch's loss to it) raised a math domain error and ended the app; and no axis can place
nan or inf (plotext fails turning them into a row). So, on a log axis, 0 and below are drawn at a
floor a decade below the smallest positive value shown (a round power of ten, so it reads off the
axis); -inf at the lowest finite value on a linear one; nan and +inf at the highest finite value.
The points moved are marked (a red o) and the legend says where they were drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YAxis:
    log: bool
    floor: float  # where values below the axis are drawn (<= 0 on a log axis, -inf on either)
    top: float  # where nan and +inf are drawn

    @classmethod
    def fit(cls, series, log: bool) -> YAxis:
        """The axis for all of `series` (sequences of values) drawn together."""
        values = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in series] or [np.empty(0)])
        shown = values[np.isfinite(values)]
        if log:
            shown = shown[shown > 0]
        if not shown.size:  # nothing to measure from: an axis from 0.1 (log) or 0 up to 1
            return cls(log, 0.1 if log else 0.0, 1.0)
        low, high = float(shown.min()), float(shown.max())
        if log:  # (a decade below a subnormal would round to 0: then the value itself)
            low = 10.0 ** (math.floor(math.log10(low)) - 1) or low
        return cls(log, low, high)

    def place(self, values) -> np.ndarray:
        """`values` as float64 with every one the axis can draw: the others at the floor or the top."""
        y = np.asarray(values, dtype=np.float64)
        return np.where(self._below(y), self.floor, np.where(self._above(y), self.top, y))

    def moved(self, values) -> list[tuple[np.ndarray, float, str]]:
        """(which, drawn at, legend label) for each kind of value in `values` that `place` moves."""
        y = np.asarray(values, dtype=np.float64)
        below = f"<=0 drawn at {self.floor:.0e}" if self.log else "-inf drawn at bottom"
        kinds = ((self._below(y), self.floor, below), (self._above(y), self.top, "nan/inf drawn at top"))
        return [kind for kind in kinds if kind[0].any()]

    def mark(self, plt, x, values, columns: int) -> None:
        """A red o where `values` (at `x`) were moved, at most `columns` of each kind, with its label."""
        x = np.asarray(x, dtype=np.float64)
        for which, at, label in self.moved(values):
            xs = x[which]
            if len(xs) > columns:  # evenly through them: where they crowd, the marks do too
                xs = xs[np.linspace(0, len(xs) - 1, columns).astype(int)]
            plt.scatter(xs, np.full(len(xs), at), marker="o", color="red", label=label)

    def _below(self, y: np.ndarray) -> np.ndarray:
        return y <= 0 if self.log else y == -np.inf

    def _above(self, y: np.ndarray) -> np.ndarray:
        return np.isnan(y) | (y == np.inf)
