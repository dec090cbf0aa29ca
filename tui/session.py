"""The training session behind the app: dataset, config, trainer and the event queue.

It knows nothing of widgets. The trainer's sink and the dataset loader append
to one deque (append and popleft are thread-safe); the app drains it on a timer.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from engine.config import TrainConfig
from engine.dataset import Dataset, DatasetError
from engine.loader import load_dataset
from engine.trainer import Trainer

from .messages import DatasetReady, DatasetUnavailable, DatasetWarning

TrainerFactory = Callable[[Dataset, TrainConfig, Callable], Trainer]
Loader = Callable[..., Dataset]


class Session:
    def __init__(
        self,
        config: TrainConfig,
        data_dir: str | None = None,
        trainer_factory: TrainerFactory = Trainer,
        loader: Loader = load_dataset,
    ):
        self.config = config
        self.data_dir = data_dir
        self.dataset: Dataset | None = None
        self.trainer: Trainer | None = None
        self.events: deque = deque()
        self._trainer_factory = trainer_factory
        self._loader = loader
        self._generation = 0  # events of a trainer from before the last reset are dropped

    # ---- data ---------------------------------------------------------------------------

    def load(self) -> None:
        """Load (and if needed download) the configured dataset in a background thread."""
        threading.Thread(target=self._load, name="backprop-loader", daemon=True).start()

    def _load(self) -> None:
        try:
            dataset = self._loader(self.config.dataset, self.data_dir, progress=self.events.append,
                                   warn=lambda message: self.events.append(DatasetWarning(message)))
        except DatasetError as exc:
            self.events.append(DatasetUnavailable(str(exc)))
        except Exception as exc:  # an unexpected loader failure must still reach the screen
            self.events.append(DatasetUnavailable(f"{type(exc).__name__}: {exc}"))
        else:
            self.dataset = dataset
            self.trainer = self._new_trainer()
            self.events.append(DatasetReady(dataset))

    def _new_trainer(self) -> Trainer:
        generation = self._generation

        def sink(event) -> None:
            if generation == self._generation:
                self.events.append(event)

        return self._trainer_factory(self.dataset, self.config, sink)

    def drain(self) -> list:
        """Every event queued since the last call, oldest first."""
        events = []
        while self.events:
            events.append(self.events.popleft())
        return events

    # ---- controls -----------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.trainer is not None and self.trainer.state != "idle"

    def ensure_started(self, paused: bool) -> bool:
        """Start the worker if it is not yet running; False when there is nothing to start."""
        if self.trainer is None:
            return False
        if self.trainer.state == "idle":
            self.trainer.start(paused=paused)
        return True

    def reset(self, config: TrainConfig) -> bool:
        """Stop the current trainer and build a fresh one with `config` (a new dataset reloads)."""
        if self.trainer is not None:
            self.trainer.stop()
        self._generation += 1
        reload = config.dataset != self.config.dataset
        self.config = config
        self.events.clear()
        if reload or self.dataset is None:
            if reload:
                self.data_dir = None  # --data-dir held the old dataset; the new one comes from the cache
            self.dataset = self.trainer = None
            self.load()
            return True
        self.trainer = self._new_trainer()
        self.events.append(DatasetReady(self.dataset))
        return True

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.stop(timeout=2.0)
