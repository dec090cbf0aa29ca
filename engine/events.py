"""Events the trainer hands to its sink: immutable, and holding copies of any arrays.

The sink is called from the worker thread; a UI must only queue them and
render from its own thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import TrainConfig
from .download import DownloadProgress  # the data layer's, queued with the training events
from .gradcheck import GradCheckRow
from .insight import LayerStatsRow


@dataclass(frozen=True)
class Started:
    config: TrainConfig
    architecture: str
    dataset: str
    train_size: int
    test_size: int
    iteration: int = 0  # where training starts (nonzero when resumed)


@dataclass(frozen=True)
class BatchDone:
    iteration: int  # batches done so far, this one included
    epoch: float  # passes over the training set so far, fractional
    loss: float  # loss of this batch before the update
    lr: float
    samples_per_s: float


@dataclass(frozen=True, eq=False)  # (an array's == is not a truth value)
class Batches:
    """Consecutive batches at one learning rate as one record: how a run's log keeps BatchDone events
    (about 12 bytes a batch instead of 160). The trainer sends BatchDone; readers of a log get these."""

    first: int  # the first batch's iteration; the others follow one by one
    losses: np.ndarray  # (batches,) float64, read-only: each loss to float32 precision
    lr: float
    epoch: float  # the first batch's ...
    epoch_step: float  # ... and how much each batch adds to it
    samples_per_s: float  # at the last batch

    @property
    def last(self) -> int:
        return self.first + len(self.losses) - 1

    def epochs(self) -> np.ndarray:
        # Rounded to 12 decimals: e + k * step carries float noise (0.30000000000000004) that no epoch has.
        return np.round(self.epoch + self.epoch_step * np.arange(len(self.losses)), 12)

    def batch_events(self) -> list[BatchDone]:
        return [BatchDone(self.first + k, epoch, loss, self.lr, self.samples_per_s)
                for k, (epoch, loss) in enumerate(zip(self.epochs().tolist(), self.losses.tolist()))]

    def until(self, iteration: int) -> Batches | None:
        """The batches up to `iteration` (None when there are none)."""
        n = min(iteration - self.first + 1, len(self.losses))
        if n <= 0:
            return None
        return self if n == len(self.losses) else Batches(self.first, self.losses[:n], self.lr, self.epoch,
                                                          self.epoch_step, self.samples_per_s)


@dataclass(frozen=True)
class EpochDone:
    epoch: int
    iteration: int
    train_acc: float
    test_acc: float


@dataclass(frozen=True)
class Evaluated:
    """Accuracy computed on request, between epochs."""

    iteration: int
    train_acc: float
    test_acc: float


@dataclass(frozen=True)
class GradCheckDone:
    rows: tuple[GradCheckRow, ...]
    iteration: int
    seconds: float


@dataclass(frozen=True)
class Samples:
    """Test digits with the network's view of them, for a preview pane."""

    images: np.ndarray  # (n, height, width), read-only copy
    labels: np.ndarray  # (n,)
    predictions: np.ndarray  # (n,)
    probabilities: np.ndarray  # (n, classes)
    iteration: int
    indices: np.ndarray | None = None  # their places in the test set; None: the first n


@dataclass(frozen=True)
class TestPredictions:
    """The network's view of the whole test set, from the forward pass that scored it (sent with each score)."""

    __test__ = False  # not a pytest test class, despite the name

    iteration: int
    predictions: np.ndarray  # (n,) the most probable class, read-only copy
    probabilities: np.ndarray  # (n, classes) float32


@dataclass(frozen=True)
class LayerStats:
    """Weight and gradient histograms, gradient norms and dead ReLU units, per Affine layer (see insight.py)."""

    iteration: int
    layers: tuple[LayerStatsRow, ...]


@dataclass(frozen=True)
class WeightImages:
    """The first layer's weights, one image per hidden unit: the pattern each unit responds to."""

    iteration: int
    images: np.ndarray  # (hidden_units, height, width) float32, read-only copy


@dataclass(frozen=True)
class Parameters:
    """A copy of the network's parameters, on request (the Backprop lesson runs its layers on them)."""

    iteration: int
    sizes: tuple[int, ...]  # 784, 50, 10
    activation: str
    params: dict[str, np.ndarray]  # "W1", "b1", ...: read-only copies
    source: str  # where they come from: "the live network", or a checkpoint's file name


@dataclass(frozen=True)
class ParamChanged:
    name: str  # "lr", "batch_size", "optimizer", "gradcheck_every" or "insight_every"
    old: object
    new: object
    iteration: int


@dataclass(frozen=True)
class Paused:
    iteration: int


@dataclass(frozen=True)
class Resumed:
    iteration: int


@dataclass(frozen=True)
class Diverged:
    """The loss became NaN or inf: training paused, the last good parameters kept."""

    iteration: int
    loss: float


@dataclass(frozen=True)
class Finished:
    iteration: int
    seconds: float


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    iteration: int


@dataclass(frozen=True)
class WriteFailed:
    """A run file (its log, a checkpoint, its preview digits) could not be written: the run pauses.

    What was written before stays intact; resuming tries the write again.
    """

    path: str
    message: str  # the system's reason, e.g. "No space left on device"


@dataclass(frozen=True)
class Failed:
    message: str


Event = (
    Started | BatchDone | EpochDone | Evaluated | GradCheckDone | Samples | TestPredictions | LayerStats
    | WeightImages | Parameters | ParamChanged | Paused | Resumed | Diverged | Finished | Failed | DownloadProgress
    | CheckpointSaved | WriteFailed
)


def frozen_copy(array: np.ndarray) -> np.ndarray:
    """A read-only copy, so an event cannot be changed by its sender or by a receiver."""
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out
