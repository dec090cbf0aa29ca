"""Tab 4: the confusion matrix (its keys choose a cell's digits) and the most confidently wrong digits."""
from __future__ import annotations

from textual.app import ComposeResult

from ..options import UiOptions
from ..state import MonitorState
from ..widgets.confusion_matrix import ConfusionMatrix
from ..widgets.worst_mistakes import WorstMistakes
from .pane import Pane


class ErrorsPane(Pane):
    def __init__(self, ui: UiOptions, missing: dict[str, str]):
        """`missing`: what stands in for a view the session has no data for, by view id."""
        super().__init__("4 Errors", id="errors")
        placeholder = {"placeholder": missing["confusion"]} if "confusion" in missing else {}
        self.confusion = ConfusionMatrix(id="confusion", ascii=ui.ascii, **placeholder)
        self.worst = WorstMistakes(id="worst", ascii=ui.ascii)

    def compose(self) -> ComposeResult:
        yield self.confusion
        yield self.worst

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        if "errors" not in changed:
            return set()
        self.restart(state)
        return {"errors"}

    def shown(self) -> set[str]:
        return {"errors"}

    def restart(self, state: MonitorState) -> None:
        self.confusion.show(state.confusion, state.class_names, state.predictions.iteration if state.predictions else 0)
        self.worst.show(state)

    def focus_target(self) -> ConfusionMatrix:
        return self.confusion

    def escape(self) -> bool:
        return True  # the matrix keeps the keys it uses
