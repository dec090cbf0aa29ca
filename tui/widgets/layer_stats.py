"""Inside the layers: weight and gradient histograms, gradient norms over time, dead ReLU units."""
from __future__ import annotations

import numpy as np
from rich.text import Text

from ..state import MonitorState
from .cell_canvas import CellCanvas, text_lines
from .digit_preview import ASCII_RAMP
from .plot_values import YAxis

BARS = " ▁▂▃▄▅▆▇█"
ASCII_BARS = ASCII_RAMP  # --ascii: density instead of height


def sparkline(values, width: int | None = None, bars: str = BARS) -> str:
    """Values as bar heights, scaled to the largest; downsampled (by mean) to `width` characters."""
    values = np.asarray(values, dtype=np.float64)
    if width is not None and len(values) > width:
        values = np.array([chunk.mean() for chunk in np.array_split(values, width)])
    top = values.max(initial=0)
    if top <= 0 or not np.isfinite(top):
        return bars[0] * len(values)
    levels = np.ceil(values / top * (len(bars) - 1)).astype(int)  # any count at all shows
    return "".join(bars[level] for level in np.clip(levels, 0, len(bars) - 1))


def log_sparkline(values, width: int, bars: str = BARS) -> str:
    """Values YAxis placed on a log axis (norms span orders of magnitude), the lowest as the first bar."""
    logs = np.log10(np.asarray(values, dtype=np.float64))
    return sparkline(logs - logs.min() + 0.1, width, bars)


class LayerStatsView(CellCanvas):
    """As tall as its text; a redraw sends only the cells that changed (tui/widgets/cell_canvas.py)."""

    def __init__(self, ascii: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.ascii = ascii
        self.text = Text()
        self._state: MonitorState | None = None
        self.styles.height = 1

    def show(self, state: MonitorState) -> None:
        self._state = state
        self.redraw()

    def frame(self):
        width = self.size.width
        if self._state is not None:
            self.text = render_layers(self._state, max(width, 40), ASCII_BARS if self.ascii else BARS)
        lines = text_lines(self.text, self.app.console, width, None)
        if len(lines) != self.size.height:  # the layout gives it that height, then on_resize draws again
            self.styles.height = len(lines)
        return lines[:self.size.height]


def render_layers(state: MonitorState, width: int, bars: str = BARS) -> Text:
    if not state.layers:
        return Text("Layer statistics come every few hundred iterations while training runs "
                    "(and with each score, once a batch has been trained).", style="dim")
    text = Text(f"layers at iteration {state.layers_iteration:,}: histograms of the weights W and of their "
                "gradient dW\n", style="bold")
    for row in state.layers:
        dead = f"dead ReLU units {row.dead_share:.0%}" if row.dead_share is not None else "no ReLU after it"
        text.append(f"{row.name:<8}", style="bold cyan")
        text.append(f" |dW| {row.weight_grad_norm:.2e}  |db| {row.bias_grad_norm:.2e}  {dead}\n")
        for name, counts, edges, style in (("W ", row.weight_counts, row.weight_edges, "green"),
                                           ("dW", row.grad_counts, row.grad_edges, "yellow")):
            text.append(f"  {name} ")
            text.append(sparkline(counts, bars=bars), style=style)
            text.append(f" {edges[0]:+.2g} to {edges[-1]:+.2g}\n", style="dim")
    if len(state.grad_norms) > 1:
        norms = np.array([n for _, n in state.grad_norms])
        first, last = state.grad_norms[0][0], state.grad_norms[-1][0]
        axis = YAxis.fit([norms], log=True)  # a layer of dead ReLU units passes back a norm of 0
        text.append(f"|dW| over iterations {first:,}-{last:,} (log scale)", style="bold")
        text.append("".join(f"; {label}" for _, _, label in axis.moved(norms)) + "\n", style="bold red")
        for k, row in enumerate(state.layers):
            text.append(f"{row.name:<8} ", style="bold cyan")
            text.append(log_sparkline(axis.place(norms[:, k]), max(width - 18, 10), bars), style="yellow")
            text.append(f" {norms[-1, k]:.1e}\n")
    text.rstrip()  # the last newline would be an empty line: the space under it is the layout's
    return text
