"""A run another process trains: its event log is followed, its process steered through the run's
command channel (a RemoteTrainer stands for its trainer). Nothing here trains, loads or saves."""
from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from engine.checkpoint import CheckpointError
from engine.config import TrainConfig
from engine.control import RemoteTrainer
from engine.controls import RunState
from engine.events import Parameters
from engine.run_lock import UNNAMED
from engine.runs import LogFollower, LogReplaced, latest_checkpoint

from ..messages import ParametersUnavailable

RUN_ELSEWHERE = "Attached: a reset belongs to the process that trains this run."


class AttachedSession:
    ended_hint = "continue it with python -m engine train --resume RUN."
    reset_refusal = RUN_ELSEWHERE
    setting_refusal = "attached: only the live settings (●) reach the run"
    settings_from_run = True  # the settings shown are the run's
    missing_views = {
        "confusion": "Attached: a run's log holds no predictions for the whole test set (too big), so the "
                     "confusion matrix and worst mistakes show in the process that trains it.",
        "weight-images": "Attached: weight images are not in the run's log; the statistics above are.",
    }
    dataset = None  # the run's own process has the data
    write_failure = None

    def __init__(self, config: TrainConfig, run_dir: Path, runs_dir: str | None = None):
        self.config = config
        self.run_dir = Path(run_dir)
        self.runs_dir = runs_dir
        self.follower = LogFollower(self.run_dir)
        self.trainer = RemoteTrainer(self.run_dir)
        self.replaying = False
        self.events: deque = deque()  # this monitor's own: parameters read from a checkpoint

    def load(self) -> None:
        """Nothing to load: the run's history arrives through drain()."""

    def drain(self) -> list:
        """The log's new records. Until caught up (and when a resume rewrites the log) they are history."""
        was_caught_up = self.follower.caught_up
        events = self.follower.poll()
        self.replaying = not was_caught_up or any(isinstance(e, LogReplaced) for e in events)
        while self.events:
            events.append(self.events.popleft())
        return events

    def ensure_started(self, paused: bool) -> bool:
        return True  # the other process started it

    def checkpoint(self) -> bool:
        self.trainer.request_checkpoint()  # the other process saves it (ControlError when none listens)
        return True

    def request_parameters(self) -> None:
        """The newest readable checkpoint's parameters (another process holds the live ones), read in a thread."""
        threading.Thread(target=self._read_parameters, name="backprop-parameters", daemon=True).start()

    def _read_parameters(self) -> None:
        try:
            checkpoint = latest_checkpoint(self.run_dir, warn=lambda message: None)
        except CheckpointError as exc:
            self.events.append(ParametersUnavailable(f"{exc}; press c to ask the training process for one"))
            return
        sizes = tuple(int(n) for n in checkpoint.architecture.split("-"))
        self.events.append(Parameters(checkpoint.iteration, sizes, checkpoint.config.activation,
                                      checkpoint.params, f"the checkpoint at iteration {checkpoint.iteration:,}"))

    def export_dir(self) -> Path | None:
        return self.run_dir

    def connection(self) -> tuple[str, bool]:
        pid = self.trainer.listener()
        if pid is None:  # killed, or ended
            return "attached, read-only: no process trains it now", False
        return (f"attached to pid {pid}" if pid != UNNAMED else "attached"), True

    def quit_question(self, state: RunState) -> str | None:
        return None  # the run goes on in its own process

    def source_note(self, dataset: str) -> str | None:
        return None

    def reset(self, config: TrainConfig) -> None:
        raise RuntimeError(RUN_ELSEWHERE)  # the controller refuses first

    def stop(self) -> None:
        """The run goes on in its own process."""
