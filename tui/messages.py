"""UI-side events the session adds to the trainer's queue (the engine's events are in engine.events)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.config import TrainConfig
from engine.dataset import Dataset


@dataclass(frozen=True)
class DatasetReady:
    dataset: Dataset
    config: TrainConfig | None = None  # the settings the run will use (a resumed run brings its own)


@dataclass(frozen=True)
class DatasetUnavailable:
    message: str


@dataclass(frozen=True)
class DatasetWarning:
    """Loaded, but something deserves a look (a local file that could not be verified)."""

    message: str


@dataclass(frozen=True)
class ParametersUnavailable:
    """No parameters to run the Backprop lesson on, and why (an attached run without a readable checkpoint)."""

    reason: str
