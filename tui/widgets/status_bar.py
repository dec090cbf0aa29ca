"""The status line: dataset, architecture, state, progress, speed, elapsed and ETA."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.controls import RunState
from engine.records import plain

from ..state import DataState, MonitorState

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


class StatusBar(Static):
    """One line, redrawn every tick if its text changed: updated without a re-layout of the screen."""

    _shown: Text | None = None

    def show(self, state: MonitorState, requested_lr: float | None = None, attached: str = "") -> None:
        text = render_status(state, requested_lr, attached)
        if text != self._shown:  # an unchanged line costs the terminal nothing
            self._shown = text
            self.update(text, layout=False)


def render_status(state: MonitorState, requested_lr: float | None = None, attached: str = "") -> Text:
    """`requested_lr`: a rate asked for that the trainer has not applied yet (shown as lr old→new).

    `attached`: how a monitor following another process's run is connected to it.
    """
    config = state.config
    lr = state.lr or config.lr
    total = f"{config.epochs} epochs" if config.epochs else f"{config.iters:,}"
    parts = [
        (f" {state.state.upper()} ", STATE_STYLES.get(state.state, "bold") + " reverse"),
        (plain(f" {state.dataset or config.dataset} "), "bold"),  # names from a run's files: no escapes
        (plain(state.architecture) or "hidden " + ",".join(map(str, config.hidden_sizes)), ""),
        (f" · iter {state.iteration:,}/{total}", ""),
        (f" · ep {state.epoch:.1f}", ""),
        (f" · lr {lr:g}" + (f"→{requested_lr:g}" if requested_lr not in (None, lr) else ""), "bold"),
    ]
    if state.latest_accuracy is not None:
        parts.append((f" · test {state.latest_accuracy[1]:.2%}", "bold"))
    if attached:
        parts.append((f" · {attached}", "bold cyan"))
    parts += [
        (f" · {rate(state.samples_per_s)} samples/s", ""),
        (f" · {clock(state.elapsed())} ETA {clock(state.eta())}", ""),
    ]
    return Text.assemble(*parts)
