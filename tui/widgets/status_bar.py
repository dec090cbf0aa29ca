"""The status line: dataset, architecture, state, progress, speed, elapsed and ETA."""
from __future__ import annotations

from rich.text import Text

from engine.controls import RunState
from engine.records import plain

from ..state import DataState, MonitorState
from .cell_canvas import CellCanvas, text_lines

STATE_STYLES = {
    DataState.LOADING: "bold cyan", RunState.IDLE: "bold", RunState.RUNNING: "bold green",
    RunState.PAUSED: "bold yellow", RunState.STOPPED: "bold magenta", RunState.FINISHED: "bold blue",
    RunState.DIVERGED: "bold red", RunState.FAILED: "bold red", DataState.UNAVAILABLE: "bold red",
}


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def rate(samples_per_s: float) -> str:
    """Samples per second, short: 950, 12.3k, 347k."""
    if samples_per_s < 1000:
        return f"{samples_per_s:.0f}"
    return f"{samples_per_s / 1000:.1f}k" if samples_per_s < 10_000 else f"{samples_per_s / 1000:.0f}k"


class StatusBar(CellCanvas):
    """One line; a redraw sends only the cells that changed (the digits that moved)."""

    shown = Text()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._args: tuple = ()

    def show(self, state: MonitorState, requested_lr: float | None = None, attached: str = "") -> None:
        self._args = (state, requested_lr, attached)
        self.redraw()

    def frame(self):
        if self._args:
            self.shown = render_status(*self._args, self.size.width)
        return text_lines(self.shown, self.app.console, *self.size)


# How long each field stays as the line narrows: the lowest goes first (80x24 over SSH keeps the state,
# the iteration, the test accuracy, the ETA and how an attached monitor is connected).
# The state and an attached monitor's connection are never dropped.
KEEP = {"iteration": 9, "eta": 8, "test": 8, "lr": 6, "rate": 5, "elapsed": 4, "dataset": 3, "architecture": 2,
        "epoch": 1}


def render_status(state: MonitorState, requested_lr: float | None = None, attached: str = "",
                  width: int | None = None) -> Text:
    """`requested_lr`: a rate asked for that the trainer has not applied yet (shown as lr old→new).

    `attached`: how a monitor following another process's run is connected to it. `width`: drop the
    fields that matter least (KEEP) until the line fits; None keeps them all.
    """
    config = state.config
    lr = state.lr or config.lr
    total = f"{config.epochs} epochs" if config.epochs else f"{config.iters:,}"
    parts = [
        ("state", f" {state.state.upper()} ", STATE_STYLES.get(state.state, "bold") + " reverse"),
        ("dataset", plain(f" {state.dataset or config.dataset} "), "bold"),  # names from a run's files: no escapes
        ("architecture", plain(state.architecture) or "hidden " + ",".join(map(str, config.hidden_sizes)), ""),
        ("iteration", f" · iter {state.iteration:,}/{total}", ""),
        ("epoch", f" · ep {state.epoch:.1f}", ""),
        ("lr", f" · lr {lr:g}" + (f"→{requested_lr:g}" if requested_lr not in (None, lr) else ""), "bold"),
    ]
    if state.latest_accuracy is not None:
        parts.append(("test", f" · test {state.latest_accuracy[1]:.2%}", "bold"))
    if attached:
        parts.append(("attached", f" · {attached}", "bold cyan"))
    parts += [
        ("rate", f" · {rate(state.samples_per_s)} samples/s", ""),
        ("elapsed", f" · {clock(state.elapsed())}", ""),
        ("eta", f" ETA {clock(state.eta())}", ""),
    ]
    for field in sorted(KEEP, key=KEEP.get):
        if width is None or sum(len(text) for _, text, _ in parts) <= width:
            break
        parts = [part for part in parts if part[0] != field]
        # A field that shared its neighbour's separator gives it back: "0:00 ETA" and " mnist 784-..".
        joined = {"elapsed": ("eta", " ·"), "dataset": ("architecture", " ")}.get(field)
        if joined:
            parts = [(name, joined[1] + text, style) if name == joined[0] else (name, text, style)
                     for name, text, style in parts]
    return Text.assemble(*((text, style) for _, text, style in parts))
