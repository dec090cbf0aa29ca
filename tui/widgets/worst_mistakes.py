"""The test digits the network is most confidently wrong about, listed; w browses them as digits."""
from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ..state import MonitorState
from .ansi_frame import ascii_text

COLUMN = 28  # "#1234  Sneake→Pullov 100.0%" and a gap


class WorstMistakes(Widget):
    def __init__(self, ascii: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.ascii = ascii
        self.state: MonitorState | None = None

    def show(self, state: MonitorState) -> None:
        self.state = state
        self.refresh()

    def render(self):
        if self.state is None:
            return Text("")
        text = render_worst(self.state, max(self.size.width, COLUMN), max(self.size.height - 1, 1))
        return ascii_text(text) if self.ascii else text


def render_worst(state: MonitorState, width: int, rows: int) -> Text:
    if state.worst is None:
        return Text("")
    worst, p, names = state.worst, state.predictions, state.class_names
    text = Text(f"most confidently wrong, of {int((p.predictions != state.test_labels).sum()):,} mistakes "
                "(w: browse them as digits)\n", style="bold")
    columns = max(1, width // COLUMN)
    shown = worst[: columns * rows]
    for r in range(0, len(shown), columns):
        for i in shown[r : r + columns]:
            label, prediction = int(state.test_labels[i]), int(p.predictions[i])
            entry = f"#{i:<5} {names[label][:6].rstrip()}→{names[prediction][:6].rstrip()} {float(p.probabilities[i, prediction]):6.1%}"
            text.append(f"{entry:<{COLUMN}}", style="red")
        text.append("\n")
    return text
