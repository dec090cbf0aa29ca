"""The controls a running training exposes, declared once.

Three things steer a run: engine.trainer.Trainer (in this process), engine.control.RemoteTrainer
(a run another process trains, through its command file) and the tests' ScriptedTrainer. They
implement `Controls`, so the TUI and the command channel can hold any of them.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from .config import ConfigError, TrainConfig

# The settings that may change while training runs (they apply at the next batch); the others
# (network shape, data, seed...) need a new run.
LIVE_SETTINGS = ("lr", "batch_size", "optimizer", "gradcheck_every", "insight_every")

CheckpointPath = Path | Callable[[int], Path]  # where to save; a function gets the iteration saved at


class RunState(StrEnum):
    """Where a run is. A str enum, so `state == "paused"` and an f-string read as the plain word."""

    IDLE = "idle"  # made, not started
    RUNNING = "running"
    PAUSED = "paused"
    DIVERGED = "diverged"  # the loss went NaN/inf; paused on the last good parameters
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    REMOTE = "remote"  # another process trains it: its state is in the run's event log, not here


def checked_setting(config: TrainConfig, name: str, value) -> TrainConfig:
    """`config` with the live setting `name` changed to `value`; ConfigError (a ValueError) when refused."""
    if name not in LIVE_SETTINGS:
        raise ConfigError({name: f"{name!r} cannot change while training; the live settings are "
                                 + ", ".join(LIVE_SETTINGS)})
    return config.with_changes(**{name: value})


@runtime_checkable
class Controls(Protocol):
    """Steers a run. Each control may be called from any thread and takes effect between batches;
    what it did shows up as events. A refused argument raises ValueError before anything changes
    (remote controls also raise engine.control.ControlError when no process takes their commands)."""

    state: RunState

    def pause(self) -> None: ...

    def resume(self) -> None:
        """Run on after a pause or a divergence."""

    def step(self) -> None:
        """Train exactly one batch, then stay paused (pausing first if running)."""

    def set(self, name: str, value) -> None:
        """Change one of LIVE_SETTINGS, checked as checked_setting does (a new optimizer starts afresh, at the current lr)."""

    def request_gradcheck(self) -> None: ...

    def request_evaluation(self) -> None: ...

    def request_checkpoint(self, path: CheckpointPath | None = None) -> None:
        """Save a checkpoint between batches, at `path`.

        None means where the training process keeps the run's manual checkpoints: remote controls
        send only that (another process's file names are not theirs to choose, so a path is refused),
        while a trainer in this process keeps no run and needs a path.
        """
