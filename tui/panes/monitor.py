"""Tab 1: the loss and accuracy plots, and the latest gradient check."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from engine.controls import RunState

from ..options import UiOptions
from ..pacing import RedrawPacing
from ..state import MonitorState
from ..widgets.accuracy_plot import AccuracyPlot
from ..widgets.gradcheck_table import GradCheckTable
from ..widgets.loss_plot import LossPlot
from .pane import Pane

GRADCHECK_HINT = "gradient check: press g, or set an interval in Settings (3)"


class MonitorPane(Pane):
    def __init__(self, state: MonitorState, pacing: RedrawPacing, ui: UiOptions):
        super().__init__("1 Monitor", id="monitor")
        self.pacing = pacing
        self.loss_plot = LossPlot(state, id="loss-plot", ascii=ui.ascii)
        self.accuracy_plot = AccuracyPlot(state, id="accuracy-plot", ascii=ui.ascii)
        self.gradcheck_title = Static(GRADCHECK_HINT, id="gradcheck-title")
        self.gradcheck_table = GradCheckTable(id="gradcheck")

    def compose(self) -> ComposeResult:
        with Horizontal(id="monitor-top"):
            yield self.loss_plot
            yield self.accuracy_plot
        yield self.gradcheck_title
        yield self.gradcheck_table

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        drawn = set()
        plots = {name: plot for name, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot))
                 if name in changed}
        # Plots are the costly redraw: paced by what the last ones cost (tui/pacing.py).
        if plots and self.pacing.plots_due(sum(p.cost for p in plots.values()), state.state == RunState.RUNNING):
            for plot in plots.values():
                plot.redraw()
            drawn |= plots.keys()
        if "gradcheck" in changed:
            self.show_gradcheck(state)
            drawn.add("gradcheck")
        return drawn

    def restart(self, state: MonitorState) -> None:
        self.loss_plot.redraw()
        self.accuracy_plot.redraw()
        self.show_gradcheck(state)

    def show_gradcheck(self, state: MonitorState) -> None:
        if state.gradcheck_iteration is None:  # none yet in this run
            self.gradcheck_table.clear()
            self.gradcheck_title.update(GRADCHECK_HINT)
            return
        self.gradcheck_table.show(state.gradcheck)
        self.gradcheck_title.update(
            f"gradient check at iteration {state.gradcheck_iteration:,} ({1000 * state.gradcheck_seconds:.0f} ms): "
            f"backprop vs central differences, float64, {sum(r.checked for r in state.gradcheck):,} elements"
        )

    def toggle_log_scale(self) -> None:
        self.loss_plot.log_scale = not self.loss_plot.log_scale
        self.loss_plot.redraw()

    def toggle_smoothing(self) -> None:
        self.loss_plot.smoothing = not self.loss_plot.smoothing
        self.loss_plot.redraw()
