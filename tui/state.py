"""What the monitor knows about a run, built only from engine events.

The app drains the trainer's event queue on a timer and feeds every event to
MonitorState.apply(); widgets render from this state. Nothing here touches a
widget, so the whole model is testable without a terminal.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from enum import StrEnum

import numpy as np

from engine import events as ev
from engine.config import ConfigError, TrainConfig
from engine.controls import RunState
from engine.gradcheck import GradCheckRow
from engine.history import Ema, Pyramid, thin
from engine.insight import LayerStatsRow, confusion_matrix, worst_mistakes
from engine.runs import ChannelProblem, LogReplaced, LogUnreadable, RecordsSkipped
from engine.throughput import seconds_left

from .messages import DatasetReady, DatasetUnavailable, DatasetWarning, ParametersUnavailable


class DataState(StrEnum):
    """Where the monitor is before there is a run to show (then it shows the run's RunState)."""

    LOADING = "loading"  # the dataset is being read or downloaded
    UNAVAILABLE = "unavailable"  # it could not be: another dataset (Settings) or a retry (r)


WORST_COUNT = 100  # the most confident mistakes kept for browsing
KEPT = 1024  # accuracy points, gradient norms and markers kept: past it, older ones are thinned out


@dataclass
class Marker:
    iteration: int
    label: str  # e.g. "lr 0.1→0.05"


@dataclass
class MonitorState:
    config: TrainConfig
    dataset: str = ""
    architecture: str = ""
    state: RunState | DataState = DataState.LOADING
    iteration: int = 0
    epoch: float = 0.0
    samples_per_s: float = 0.0
    lr: float = 0.0
    losses: Pyramid = field(default_factory=Pyramid)  # per batch, at every resolution (engine/history.py) ...
    smoothed: Pyramid = field(default_factory=Pyramid)  # ... and their EMA; the exact values are in the run's log
    accuracy: list[tuple[int, float, float]] = field(default_factory=list)  # (iteration, train, test)
    markers: list[Marker] = field(default_factory=list)
    gradcheck: tuple[GradCheckRow, ...] = ()
    gradcheck_iteration: int | None = None
    gradcheck_seconds: float = 0.0
    samples: ev.Samples | None = None
    test_images: np.ndarray | None = None  # (n, height, width) uint8: the dataset's, shared, never written
    test_labels: np.ndarray | None = None
    predictions: ev.TestPredictions | None = None  # the whole test set, at the latest score
    confusion: np.ndarray | None = None  # (classes, classes): row true label, column prediction
    worst: np.ndarray | None = None  # test indices of the most confident mistakes, most confident first
    layers: tuple[LayerStatsRow, ...] = ()  # the latest layer statistics ...
    layers_iteration: int | None = None
    grad_norms: list[tuple[int, tuple[float, ...]]] = field(default_factory=list)  # ... and |dW| per layer over time
    weight_images: ev.WeightImages | None = None
    parameters: ev.Parameters | None = None  # the latest copy asked for (the Backprop lesson's)
    parameters_missing: str = ""  # why there is none, when asking failed
    class_names: tuple[str, ...] = tuple("0123456789")
    train_size: int = 0
    message: str = ""  # the last error or warning, shown in the message bar
    damaged: str = ""  # damaged records skipped in the run's log (shown when there is no other message)
    warnings: list[str] = field(default_factory=list)  # about the data; the app shows them as a notification
    download: ev.DownloadProgress | None = None
    running_seconds: float = 0.0  # time spent running, pauses excluded
    _running_since: float | None = None
    _ema: Ema = field(default_factory=Ema)  # of the losses: `smoothed`

    # ---- derived ------------------------------------------------------------------------

    def elapsed(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return self.running_seconds + (now - self._running_since if self._running_since is not None else 0.0)

    def planned_iterations(self) -> int | None:
        """The iteration the run ends at, when known: its iterations, or its epochs' batches."""
        if self.config.epochs is None:
            return self.config.iters
        return self.config.epochs * -(-self.train_size // self.config.batch_size) if self.train_size else None

    def eta(self) -> float | None:
        """Seconds left at the run's rate of whole work (engine/throughput.py), or None when unknown."""
        if self.state != RunState.RUNNING:
            return None
        if self.config.epochs is not None:
            if not self.train_size:
                return None
            return seconds_left((self.config.epochs - self.epoch) * self.train_size, self.samples_per_s)
        return seconds_left((self.config.iters - self.iteration) * self.config.batch_size, self.samples_per_s)

    # ---- updates --------------------------------------------------------------------------

    def reset(self, config: TrainConfig) -> None:
        """Forget the run: become a new run's state with `config`, in place, so no view keeps a stale one."""
        fresh = MonitorState(config)
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def apply(self, event) -> set[str]:
        """Fold one event into the state; return the names of the views it changed."""
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        return handler(event) if handler else set()

    def _set_running(self, running: bool) -> None:
        now = time.monotonic()
        if self._running_since is not None:
            self.running_seconds += now - self._running_since
        self._running_since = now if running else None

    def _on_DatasetReady(self, e: DatasetReady) -> set[str]:
        self.config = e.config or self.config
        self.dataset = e.dataset.name
        self.architecture = "-".join(map(str, (e.dataset.input_size, *self.config.hidden_sizes, e.dataset.num_classes)))
        self.class_names = e.dataset.class_names
        self.train_size = len(e.dataset.x_train)
        self.test_images = e.dataset.x_test.reshape(-1, *e.dataset.image_shape)
        self.test_labels = e.dataset.t_test
        self.state = RunState.IDLE
        self.download = None
        return {"status"}

    def _on_LogReplaced(self, e: LogReplaced) -> set[str]:
        """Attached, the run was resumed from a checkpoint: its log is read again from the start."""
        self.reset(self.config)
        return {"loss", "accuracy", "gradcheck"}  # the preview keeps its digits until new ones come

    def _on_RecordsSkipped(self, e: RecordsSkipped) -> set[str]:
        self.damaged = f"the run's log: {e}"
        return {"status"}

    def _on_ChannelProblem(self, e: ChannelProblem) -> set[str]:
        self.message = e.message  # the run goes on; attached monitors may not reach it
        return {"status"}

    def _on_LogUnreadable(self, e: LogUnreadable) -> set[str]:
        self.damaged = f"the run's log cannot be read: {e.reason}"
        return {"status"}

    def _on_DatasetUnavailable(self, e: DatasetUnavailable) -> set[str]:
        self.state = DataState.UNAVAILABLE
        self.message = e.message
        return {"status"}

    def _on_DatasetWarning(self, e: DatasetWarning) -> set[str]:
        self.warnings.append(e.message)
        return set()

    def _on_DownloadProgress(self, e: ev.DownloadProgress) -> set[str]:
        self.download = e
        return {"status"}

    def _on_Started(self, e: ev.Started) -> set[str]:
        self.config = e.config
        self.dataset = self.dataset or e.dataset
        self.architecture = e.architecture
        self.lr = e.config.lr
        self.train_size = e.train_size
        self.state = RunState.RUNNING
        self._set_running(True)
        return {"status"}

    def _on_BatchDone(self, e: ev.BatchDone) -> set[str]:
        self.iteration, self.epoch, self.samples_per_s, self.lr = e.iteration, e.epoch, e.samples_per_s, e.lr
        self.losses.append(e.iteration, e.loss)
        self.smoothed.append(e.iteration, self._ema(e.loss))
        return {"status", "loss"}

    def _on_Batches(self, e: ev.Batches) -> set[str]:
        """Many batches from a run's log at once."""
        self.iteration, self.epoch, self.samples_per_s, self.lr = e.last, float(e.epochs()[-1]), e.samples_per_s, e.lr
        iterations = np.arange(e.first, e.last + 1)
        self.losses.extend(iterations, e.losses)
        self.smoothed.extend(iterations, [self._ema(loss) for loss in e.losses.tolist()])
        return {"status", "loss"}

    def _on_EpochDone(self, e: ev.EpochDone) -> set[str]:
        return self._on_Evaluated(e)

    def _on_Evaluated(self, e: ev.Evaluated | ev.EpochDone) -> set[str]:
        self.accuracy.append((e.iteration, e.train_acc, e.test_acc))
        thin(self.accuracy, KEPT)
        return {"accuracy", "status"}

    def _on_GradCheckDone(self, e: ev.GradCheckDone) -> set[str]:
        self.gradcheck, self.gradcheck_iteration, self.gradcheck_seconds = e.rows, e.iteration, e.seconds
        return {"gradcheck"}

    def _on_Parameters(self, e: ev.Parameters) -> set[str]:
        self.parameters, self.parameters_missing = e, ""
        return {"parameters"}

    def _on_ParametersUnavailable(self, e: ParametersUnavailable) -> set[str]:
        self.parameters_missing = e.reason
        return {"parameters"}

    def _on_Samples(self, e: ev.Samples) -> set[str]:
        if e.probabilities.shape[1] != len(self.class_names):  # another dataset's (a run's file from elsewhere)
            return set()
        self.samples = e
        return {"samples"}

    def _on_TestPredictions(self, e: ev.TestPredictions) -> set[str]:
        if self.test_labels is None or len(self.test_labels) != len(e.predictions):
            return set()  # not this dataset's (an attached monitor has no dataset)
        self.predictions = e
        self.confusion = confusion_matrix(self.test_labels, e.predictions, len(self.class_names))
        self.worst = worst_mistakes(e.probabilities, self.test_labels, WORST_COUNT)
        return {"errors"}

    def _on_LayerStats(self, e: ev.LayerStats) -> set[str]:
        self.layers, self.layers_iteration = e.layers, e.iteration
        if self.grad_norms and self.grad_norms[-1][0] == e.iteration:  # sent again with a score
            return {"layers"}
        self.grad_norms.append((e.iteration, tuple(row.weight_grad_norm for row in e.layers)))
        thin(self.grad_norms, KEPT)
        return {"layers"}

    def _on_WeightImages(self, e: ev.WeightImages) -> set[str]:
        self.weight_images = e
        return {"layers"}

    def _on_ParamChanged(self, e: ev.ParamChanged) -> set[str]:
        try:
            self.config = self.config.with_changes(**{e.name: e.new})
        except ConfigError:  # a value this run's settings cannot take (a log from elsewhere): not applied
            return set()
        if e.name == "lr":
            self.lr = e.new
        if e.name not in ("gradcheck_every", "insight_every"):  # settings of the views, not of training
            label = f"{_short(e.name)}={e.new:g}" if isinstance(e.new, float) else f"{_short(e.name)}={e.new}"
            if self.markers and self.markers[-1].iteration == e.iteration:  # several changes at one batch
                self.markers[-1] = Marker(e.iteration, f"{self.markers[-1].label} {label}")
            else:
                self.markers.append(Marker(e.iteration, label))
                thin(self.markers, KEPT)
        return {"status", "loss"}

    def _on_Paused(self, e: ev.Paused) -> set[str]:
        if self.state == RunState.RUNNING:
            self.state = RunState.PAUSED
        self._set_running(False)
        return {"status"}

    def _on_Resumed(self, e: ev.Resumed) -> set[str]:
        self.state = RunState.RUNNING
        self.message = ""
        self._set_running(True)
        return {"status"}

    def stop(self) -> None:
        """The run's process is gone (seen by an attached monitor): it neither runs nor takes commands."""
        self.state = RunState.STOPPED
        self._set_running(False)

    def _on_Diverged(self, e: ev.Diverged) -> set[str]:
        self.state = RunState.DIVERGED
        self.message = f"diverged at iteration {e.iteration} (loss {e.loss}); lower the learning rate and resume"
        self._set_running(False)
        return {"status"}

    def _on_Finished(self, e: ev.Finished) -> set[str]:
        self.state = RunState.FINISHED
        self._set_running(False)
        return {"status"}

    def _on_WriteFailed(self, e: ev.WriteFailed) -> set[str]:
        self.message = (f"cannot write {e.path}: {e.message}. Training pauses; what was saved is intact. "
                        "Make room (or fix the folder), then press space to try again.")
        return {"status"}

    def _on_Failed(self, e: ev.Failed) -> set[str]:
        self.state = RunState.FAILED
        self.message = e.message
        self._set_running(False)
        return {"status"}

    # ---- views ------------------------------------------------------------------------------

    def test_digits(self, indices: np.ndarray) -> ev.Samples | None:
        """Test digits by their places in the test set, with the latest predictions (None before any)."""
        p = self.predictions
        if p is None:
            return None
        indices = np.asarray(indices, dtype=np.int64)
        return ev.Samples(self.test_images[indices], self.test_labels[indices], p.predictions[indices],
                          p.probabilities[indices], p.iteration, indices)

    def confused(self, label: int, prediction: int) -> np.ndarray:
        """Test indices of the digits of class `label` predicted as `prediction`, most confident first."""
        p = self.predictions
        chosen = np.flatnonzero((self.test_labels == label) & (p.predictions == prediction))
        return chosen[np.argsort(-p.probabilities[chosen, prediction], kind="stable")]

    @property
    def latest_accuracy(self) -> tuple[float, float] | None:
        return self.accuracy[-1][1:] if self.accuracy else None


def _short(name: str) -> str:
    return {"batch_size": "batch", "optimizer": "opt"}.get(name, name)


def envelope(x: list[int], y: list[float], columns: int, mean: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """About two points per column: each column's min then max of y (its mean twice when `mean`).

    Drawn as one line, the min/max pairs show the batch-to-batch noise that an
    average would hide. Fewer points than columns are returned as they are.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(ys) <= 2 * columns:
        return xs, ys
    starts = np.linspace(0, len(ys), columns + 1).astype(int)[:-1]
    middle = np.add.reduceat(xs, starts) / np.diff(np.append(starts, len(ys)))
    if mean:
        values = np.add.reduceat(ys, starts) / np.diff(np.append(starts, len(ys)))
        return middle, values
    low, high = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    return np.repeat(middle, 2), np.column_stack([low, high]).ravel()
