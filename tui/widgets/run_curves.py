"""Saved runs' curves: one run's loss and accuracy, or two runs' overlaid to compare them."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from engine.run_index import RunRecord

from ..state import envelope
from .plot_axes import iteration_axis

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
        last = 1
        columns = max(self.size.width - 10, 2)
        for number, run in enumerate(self.runs):
            label = f"{number + 1} {run.settings}" if compare else None  # 1 and 2 as marked in the list
            if self.metric == "loss" and run.losses:
                if not compare:  # one run: the batch-to-batch band behind its mean
                    x, y = envelope(run.iterations, run.losses, columns)
                    plt.plot(x, y, marker="braille", color="gray", label="batch (min-max)")
                x, y = envelope(run.iterations, run.losses, columns, mean=True)
                plt.plot(x, y, marker="braille", color=COLORS[number], label=label or "mean per column")
                last = max(last, run.iterations[-1])
            elif self.metric == "accuracy" and run.accuracy:
                x = [a[0] for a in run.accuracy]
                plt.plot(x, [100 * a[2] for a in run.accuracy], marker="braille", color=COLORS[number],
                         label=label or "test")
                if not compare:
                    plt.plot(x, [100 * a[1] for a in run.accuracy], marker="braille", color="green",
                             label="train")
                last = max(last, x[-1])
        if self.metric == "loss" and any(r.losses for r in self.runs):
            plt.yscale("log")
        iteration_axis(plt, last, self.size.width)
