"""The run behind the app, terminal-free: a `LocalSession` trains it in this process, an
`AttachedSession` follows one another process trains. The app and the controller hold either
through `Session`, so the differences live here as rules, not as `if attached` branches."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from engine.config import TrainConfig
from engine.controls import Controls, RunState
from engine.dataset import Dataset
from engine.events import WriteFailed

from .attached import AttachedSession
from .local import LocalSession

__all__ = ["AttachedSession", "LocalSession", "Session"]


class Session(Protocol):
    config: TrainConfig  # the run's settings (a reset's new ones once it is made)
    dataset: Dataset | None  # None while loading, when unavailable, and attached (the other process has it)
    trainer: Controls | None  # None until the data is loaded
    runs_dir: str | None  # where the run browser looks
    write_failure: WriteFailed | None  # the last checkpoint, on ending, could not be written
    replaying: bool  # the events of the last drain are history: the run's log read back, no toasts

    # The rules that differ: what an ended run can do, whether a reset or a structural setting is
    # this monitor's to make, whether the run's own settings replace the requested ones when it starts,
    # and what stands in for a view the session has no data for (by widget id).
    ended_hint: str
    reset_refusal: str | None
    setting_refusal: str | None
    settings_from_run: bool
    missing_views: dict[str, str]

    def load(self) -> None:
        """Start loading the data in the background (events report how it went)."""

    def drain(self) -> list:
        """Every event since the last call, oldest first."""

    def ensure_started(self, paused: bool) -> bool:
        """Start the worker if it is idle; False when there is nothing to start."""

    def checkpoint(self) -> bool:
        """Save the run now (or ask its process to); False when there is no run to save."""

    def export_dir(self) -> Path | None:
        """The run directory an export goes into, its log flushed; None without one."""

    def connection(self) -> tuple[str, bool]:
        """How the monitor is connected to the run, for the status bar (empty when it trains it), and
        whether a process trains the run now."""

    def quit_question(self, state: RunState) -> str | None:
        """What to ask before quitting; None to quit at once."""

    def source_note(self, dataset: str) -> str | None:
        """Where `dataset` would load from on a reset, when worth saying."""

    def request_parameters(self) -> None:
        """Ask for a copy of the network's parameters: a Parameters event, or ParametersUnavailable, follows."""

    def reset(self, config: TrainConfig) -> None:
        """End the current run; make a new one with `config`."""

    def stop(self) -> None:
        """End the run this process trains, saving where it stopped (from any thread)."""
