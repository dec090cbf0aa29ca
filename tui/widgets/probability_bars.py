"""The selected digit's probability for every class, as bars."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.events import Samples


class ProbabilityBars(Static):
    def __init__(self, *args, ascii: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ascii = ascii

    def show(self, samples: Samples | None, index: int | None, class_names: tuple[str, ...]) -> None:
        self.update(render_bars(samples, index, class_names, max(self.size.width, 20), self.ascii), layout=False)


def render_bars(samples: Samples | None, index: int | None, class_names: tuple[str, ...], width: int,
                ascii: bool = False) -> Text:
    if samples is None or index is None:
        return Text("Select a digit to see its class probabilities.", style="dim")
    label, prediction = int(samples.labels[index]), int(samples.predictions[index])
    name_width = max(len(n) for n in class_names)
    bar_width = max(width - name_width - 9, 4)
    number = index if samples.indices is None else int(samples.indices[index])
    text = Text(f"test #{number}: true {class_names[label]}, pred {class_names[prediction]}\n", style="bold")
    for c, p in enumerate(samples.probabilities[index]):
        filled = int(round(float(p) * bar_width))
        style = "green" if c == label else ("red" if c == prediction else "cyan")
        text.append(f"{class_names[c]:>{name_width}} ", style="bold" if c in (label, prediction) else "")
        full, empty = ("#", ".") if ascii else ("█", "·")
        text.append(full * filled, style=style)
        text.append(empty * (bar_width - filled), style="dim")
        text.append(f" {float(p):6.1%}\n")
    return text
