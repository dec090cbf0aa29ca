"""Tab 2: digits with their predictions, and the probabilities of the selected one. It shows the latest
preview from training, or a chosen set of test digits (a confusion-matrix cell, the worst mistakes)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal

from engine.controls import RunState
from engine.events import Samples

from ..options import UiOptions
from ..pacing import RedrawPacing
from ..state import MonitorState
from ..widgets.digit_preview import DigitPreview
from ..widgets.probability_bars import ProbabilityBars
from .pane import Pane

WORST = ("worst",)


def cell(label: int, prediction: int) -> tuple:
    return ("cell", label, prediction)


class DigitsPane(Pane):
    def __init__(self, state: MonitorState, pacing: RedrawPacing, ui: UiOptions):
        super().__init__("2 Digits", id="digits")
        self.state = state
        self.pacing = pacing
        self.view: tuple | None = None  # None: the latest preview; else WORST or cell(label, prediction)
        self.preview = DigitPreview(id="preview", ascii=ui.ascii)
        self.probabilities = ProbabilityBars(id="probabilities", ascii=ui.ascii)

    def compose(self) -> ComposeResult:
        with Horizontal(id="digits-body"):
            yield self.preview
            yield self.probabilities

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        if ("samples" in changed or "errors" in changed and self.view) and \
                self.pacing.preview_due(self.preview.samples is None, state.state == RunState.RUNNING):
            self.draw()
            return {"samples"}  # "errors" stays: the Errors tab draws it too
        return set()

    def draw(self) -> None:
        m, view = self.state, self.view
        if view is None or m.predictions is None:
            self.preview.set_samples(m.samples, m.class_names)
        elif view == WORST:
            self.preview.set_samples(m.test_digits(m.worst), m.class_names, "the most confidently wrong test digits")
        else:
            _, label, prediction = view
            names = m.class_names
            self.preview.set_samples(m.test_digits(m.confused(label, prediction)), names,
                                     f"true {names[label]}, predicted {names[prediction]}")
        self.refresh_probabilities()

    def choose(self, view: tuple) -> None:
        self.view = view
        self.draw()

    def restart(self, state: MonitorState) -> None:
        self.view = None
        self.preview.set_samples(None, state.class_names)
        self.preview.page = self.preview.selected = 0
        self.refresh_probabilities()

    def escape(self) -> bool:
        if self.view is None:
            return False
        self.choose(None)
        return True

    def refresh_probabilities(self) -> None:
        preview = self.preview
        self.probabilities.show(preview.samples, preview.selected_index(), preview.class_names)

    def page(self, step: int) -> None:
        self.preview.next_page(step)
        self.refresh_probabilities()

    def move(self, step: int) -> None:
        self.preview.move(step)
        self.refresh_probabilities()

    def chosen(self, n: int) -> Samples | None:
        """The selected digit and the next n - 1 shown (the Backprop lesson's batch, the lab's)."""
        if self.preview.samples is None and self.state.samples is not None:
            self.draw()  # never shown yet: its digits are the latest preview's
        return self.preview.chosen(n)

    def toggle_mistakes(self) -> None:
        self.preview.toggle_mistakes()
        self.refresh_probabilities()
