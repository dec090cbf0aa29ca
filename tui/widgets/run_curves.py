"""Saved runs' curves: one run's loss and accuracy, or two runs' overlaid to compare them."""
from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

from engine.run_index import RunRecord

from ..state import envelope
from .plot_axes import decade_ticks, iteration_axis
from .plot_values import YAxis

COLORS = ("orange", "cyan")  # the first and second run compared


class RunCurves(PlotextPlot):
    """`metric`: "loss" (per batch, log scale) or "accuracy" (test, %, at each evaluation)."""

    def __init__(self, metric: str, **kwargs):
        super().__init__(**kwargs)
        self.metric = metric
        self.runs: list[RunRecord] = []

    def show(self, runs: list[RunRecord]) -> None:
        self.runs = runs
        self.refresh()

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.draw(plt)
        return super().render()

    def draw(self, plt) -> None:
        compare = len(self.runs) > 1
        plt.title(("loss per batch (log)" if self.metric == "loss" else "test accuracy %")
                  + (": " + " vs ".join(f"{i + 1}" for i in range(len(self.runs))) if compare else ""))
        lines = []  # (x, y, color, label, band): band is a min-max band, else a mean per column
        for number, run in enumerate(self.runs):
            label = f"{number + 1} {run.settings}" if compare else None  # 1 and 2 as marked in the list
            curves = run.curves  # None while they are read
            if curves is None:
                continue
            if self.metric == "loss" and curves.loss.blocks:
                middles = curves.loss.middles()
                if not compare:  # one run: the batch-to-batch band (each block's min and max) behind its mean
                    band = np.column_stack([curves.loss.lows(), curves.loss.highs()]).ravel()
                    lines.append((np.repeat(middles, 2), band, "gray", "batch (min-max)", True))
                lines.append((middles, curves.loss.means(), COLORS[number], label or "mean per column", False))
            elif self.metric == "accuracy" and curves.accuracy:
                x = [a[0] for a in curves.accuracy]
                lines.append((x, [100 * a[2] for a in curves.accuracy], COLORS[number], label or "test", False))
                if not compare:
                    lines.append((x, [100 * a[1] for a in curves.accuracy], "green", "train", False))
        columns = max(self.size.width - 10, 2)
        axis = YAxis.fit([y for _, y, *_ in lines], log=self.metric == "loss")
        shown = []
        for x, y, color, label, band in lines:
            x, y = envelope(x, axis.place(y), columns, mean=not band)
            plt.plot(x, y, marker="braille", color=color, label=label)
            shown.append(y)
        if lines:
            curves = [line for line in lines if not line[4]]  # a band repeats its mean line's values
            axis.mark(plt, np.concatenate([line[0] for line in curves]), np.concatenate([line[1] for line in curves]),
                      columns)
            if self.metric == "loss":
                plt.yscale("log")
                shown = np.concatenate(shown)
                decade_ticks(plt, shown.min(), shown.max(), self.size.height)
        iteration_axis(plt, max([1] + [x[-1] for x, *_ in lines]), self.size.width)
