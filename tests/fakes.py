"""Stand-ins that need no terminal: a scripted engine.trainer.Trainer, its data, loaders and run directories.

ScriptedTrainer has the real trainer's controls but no worker thread: every
control emits its events synchronously into the sink, and a test moves
training forward explicitly with advance(n). Nothing burns CPU, so Textual's
pilot (which waits for the CPU to go idle) stays fast, and every number the
app shows is fixed: loss, accuracy, samples/s and the digits themselves.
The Pilot helpers that run the app with it are in tests/tui/harness.py.
"""
from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable

import numpy as np

from engine import events as ev
from engine.config import TrainConfig
from engine.controls import CheckpointPath, RunState, checked_setting
from engine.dataset import Dataset, DatasetError
from engine.gradcheck import GradCheckRow
from engine.network import Network
from tests.conftest import make_dataset

SAMPLES_PER_S = 12_345.0  # shown as "12k samples/s"
SAMPLE_COUNT = 40
# Indices of the preview digits the scripted network gets wrong.
MISTAKES = (5, 11, 17, 23, 29, 35)

# Seven-segment strokes: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle.
SEGMENTS = {
    0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc",
    5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def digit_image(digit: int, shift: int = 0) -> np.ndarray:
    """A 28x28 uint8 picture of `digit` as thick seven-segment strokes with soft edges."""
    img = np.zeros((28, 28), dtype=np.float64)
    left, right, top, mid, bottom = 8 + shift, 18 + shift, 4, 13, 22
    t = 3
    boxes = {
        "a": (top, top + t, left, right + t),
        "g": (mid, mid + t, left, right + t),
        "d": (bottom, bottom + t, left, right + t),
        "f": (top, mid + t, left, left + t),
        "b": (top, mid + t, right, right + t),
        "e": (mid, bottom + t, left, left + t),
        "c": (mid, bottom + t, right, right + t),
    }
    for segment in SEGMENTS[digit]:
        r0, r1, c0, c1 = boxes[segment]
        img[r0:r1, c0:c1] = 1.0
    # A one-pixel soft halo, like an anti-aliased pen stroke.
    halo = np.zeros_like(img)
    halo[1:, :] = np.maximum(halo[1:, :], img[:-1, :])
    halo[:-1, :] = np.maximum(halo[:-1, :], img[1:, :])
    halo[:, 1:] = np.maximum(halo[:, 1:], img[:, :-1])
    halo[:, :-1] = np.maximum(halo[:, :-1], img[:, 1:])
    img = np.maximum(img, 0.35 * halo)
    return np.round(img * 255).astype(np.uint8)


def scripted_samples(iteration: int, count: int = SAMPLE_COUNT) -> ev.Samples:
    """`count` test digits (labels 0-9 repeating); the ones in MISTAKES are predicted wrong."""
    labels = np.arange(count) % 10
    predictions = labels.copy()
    mistakes = [i for i in MISTAKES if i < count]
    predictions[mistakes] = (labels[mistakes] + 3) % 10
    probabilities = np.zeros((count, 10))
    for i in range(count):
        confidence = 0.55 + 0.04 * (i % 10)  # 55% .. 91%
        if predictions[i] == labels[i]:
            probabilities[i] = (1 - confidence) / 9
        else:
            probabilities[i] = (1 - confidence - 0.25) / 8
            probabilities[i, labels[i]] = 0.25
        probabilities[i, predictions[i]] = confidence
    images = np.stack([digit_image(int(label), shift=i % 3 - 1) for i, label in enumerate(labels)])
    return ev.Samples(
        images=ev.frozen_copy(images), labels=ev.frozen_copy(labels),
        predictions=ev.frozen_copy(predictions), probabilities=ev.frozen_copy(probabilities),
        iteration=iteration,
    )


def scripted_test_predictions(labels: np.ndarray, iteration: int) -> ev.TestPredictions:
    """The whole test set scored: every 7th digit (3, 10, 17, ...) is wrong, more confidently the later it comes."""
    count, classes = len(labels), 10
    predictions = np.array(labels, dtype=np.int64)
    wrong = np.arange(3, count, 7)
    predictions[wrong] = (predictions[wrong] + 3) % classes
    confidence = 0.5 + 0.4 * np.arange(count) / count
    probabilities = np.tile(((1 - confidence) / (classes - 1))[:, None], (1, classes))
    probabilities[np.arange(count), predictions] = confidence
    return ev.TestPredictions(iteration, ev.frozen_copy(predictions), ev.frozen_copy(probabilities.astype(np.float32)))


def scripted_layer_stats(sizes: list[int], iteration: int) -> ev.LayerStats:
    """One row per Affine layer, with histograms summing to the layer's weight count."""
    from engine.insight import HIST_BINS, LayerStatsRow

    rows = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        counts = np.zeros(HIST_BINS, dtype=int)
        counts[HIST_BINS // 2] = fan_in * fan_out - (HIST_BINS - 1)
        counts[np.arange(HIST_BINS) != HIST_BINS // 2] = 1
        edges = tuple(float(e) for e in np.linspace(-0.1 * k, 0.1 * k, HIST_BINS + 1))
        last = k == len(sizes) - 1
        rows.append(LayerStatsRow(f"Affine{k}", tuple(map(int, counts)), edges, tuple(map(int, counts)), edges,
                                  0.5 / (k + iteration), 0.05, None if last else 0.25 * k))
    return ev.LayerStats(iteration, tuple(rows))


def scripted_loss(iteration: int) -> float:
    return 2.3 * math.exp(-iteration / 25) + 0.15 + 0.05 * math.sin(iteration)


def scripted_accuracy(iteration: int) -> tuple[float, float]:
    test = round(0.1 + 0.85 * (1 - math.exp(-iteration / 25)), 4)
    return min(test + 0.02, 1.0), test


def gradcheck_rows(sizes: list[int]) -> tuple[GradCheckRow, ...]:
    """One passing row per tensor W1, b1, W2, b2, ... for a network of `sizes`."""
    rows = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        for name, shape in ((f"W{k}", (fan_in, fan_out)), (f"b{k}", (fan_out,))):
            count = int(np.prod(shape))
            rows.append(GradCheckRow(name, shape, count, count, 1.5e-10 * k, 4.0e-9 * k, 2.0e-7 * k,
                                     k - 1 if name.startswith("W") else 0, True))
    return tuple(rows)


class ScriptedTrainer:
    """The controls of engine.trainer.Trainer, emitting fixed events synchronously into `sink`.

    Like the real one, a control that arrives before start() waits and runs after
    the initial evaluation; a control after the run ended (finished, failed,
    stopped) does nothing; set validates at once and raises ConfigError.
    """

    def __init__(self, dataset: Dataset, config: TrainConfig = TrainConfig(),
                 sink: Callable[[ev.Event], None] = lambda event: None):
        self.dataset = dataset
        self.config = config
        self._sink = sink
        self.state = RunState.IDLE
        self.iteration = 0
        self.calls: list[str] = []  # every control called, in order
        self.emitted: list[ev.Event] = []
        self._queued: list[Callable[[], None]] = []
        self._started = False
        self.next_losses: list[float] = []  # the losses of the next batches, before scripted_loss's

    @property
    def sizes(self) -> list[int]:
        return [self.dataset.input_size, *self.config.hidden_sizes, self.dataset.num_classes]

    @property
    def architecture(self) -> str:
        return "-".join(map(str, self.sizes))

    @property
    def alive(self) -> bool:
        return self.state in (RunState.RUNNING, RunState.PAUSED, RunState.DIVERGED)

    def _emit(self, event) -> None:
        self.emitted.append(event)
        self._sink(event)

    def _command(self, name: str, run: Callable[[], None]) -> None:
        self.calls.append(name)
        if self.state == RunState.IDLE:
            self._queued.append(run)
        elif self.alive:
            run()

    # ---- controls ----------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        self.calls.append("start")
        if self._started:
            raise RuntimeError("this trainer has already been started")
        self._started = True
        self.state = RunState.PAUSED if paused else RunState.RUNNING
        self._emit(ev.Started(self.config, self.architecture, self.dataset.name,
                              len(self.dataset.x_train), len(self.dataset.x_test), self.iteration))
        if paused:
            self._emit(ev.Paused(self.iteration))
        train, test = scripted_accuracy(self.iteration)
        self._emit(ev.EpochDone(0, self.iteration, train, test))
        self._emit_scores_views()
        queued, self._queued = self._queued, []
        for run in queued:
            run()

    def pause(self) -> None:
        self._command("pause", self._do_pause)

    def resume(self) -> None:
        self._command("resume", self._do_resume)

    def step(self) -> None:
        self._command("step", self._do_step)

    def set(self, name: str, value) -> None:
        checked_setting(self.config, name, value)  # raises ConfigError, changing nothing
        self._command(f"set {name}", lambda: self._do_set(name, value))

    def request_gradcheck(self) -> None:
        self._command("gradcheck", self._do_gradcheck)

    def request_evaluation(self) -> None:
        self._command("evaluate", self._evaluate)

    def request_checkpoint(self, path: CheckpointPath | None = None) -> None:
        """Report the checkpoint saved, writing no file (the scripted run has no parameters to keep)."""
        if path is None:
            raise ValueError("a trainer keeps no run of its own: say where to save the checkpoint")
        self._command("checkpoint", lambda: self._emit(
            ev.CheckpointSaved(str(path(self.iteration) if callable(path) else path), self.iteration)))

    def request_parameters(self) -> None:
        """A seeded network's parameters (the scripted run trains none): the same each time, as while paused."""
        self.calls.append("parameters")
        net = Network(self.sizes[0], self.sizes[1:-1], self.sizes[-1], self.config.activation, "he",
                      rng=np.random.default_rng(self.iteration))
        self._emit(ev.Parameters(self.iteration, tuple(net.sizes), net.activation,
                                 {k: ev.frozen_copy(p) for k, p in net.params.items()}, "the live network"))

    def stop(self, timeout: float = 5.0) -> bool:
        self.calls.append("stop")
        if self.state in (RunState.IDLE, RunState.RUNNING, RunState.PAUSED, RunState.DIVERGED):
            self.state = RunState.STOPPED
        return True

    def join(self, timeout: float | None = None) -> bool:
        return True

    # ---- what a test drives ---------------------------------------------------------------

    def advance(self, n: int = 1) -> None:
        """Train n batches if running (a running worker would do so by itself)."""
        for _ in range(n):
            if self.state != RunState.RUNNING:
                return
            self._batch()

    def diverge(self, loss: float = float("nan")) -> None:
        self.state = RunState.DIVERGED
        self._emit(ev.Diverged(self.iteration + 1, loss))

    def fail(self, message: str = "RuntimeError: scripted failure") -> None:
        self.state = RunState.FAILED
        self._emit(ev.Failed(message))

    def finish(self, seconds: float = 1.5) -> None:
        self._evaluate()
        self.state = RunState.FINISHED
        self._emit(ev.Finished(self.iteration, seconds))

    # ---- worker-side behaviour ------------------------------------------------------------

    def _do_set(self, name: str, value) -> None:
        old = getattr(self.config, name)
        if value == old:
            return
        self.config = self.config.with_changes(**{name: value})
        self._emit(ev.ParamChanged(name, old, value, self.iteration))

    def _do_pause(self) -> None:
        if self.state == RunState.RUNNING:
            self.state = RunState.PAUSED
            self._emit(ev.Paused(self.iteration))

    def _do_resume(self) -> None:
        if self.state in (RunState.PAUSED, RunState.DIVERGED):
            self.state = RunState.RUNNING
            self._emit(ev.Resumed(self.iteration))

    def _do_step(self) -> None:
        self._do_pause()
        self._batch()

    def _do_gradcheck(self) -> None:
        self._emit(ev.GradCheckDone(gradcheck_rows(self.sizes), self.iteration, 0.05))

    def _evaluate(self) -> None:
        train, test = scripted_accuracy(self.iteration)
        self._emit(ev.Evaluated(self.iteration, train, test))
        self._emit_scores_views()

    def _emit_scores_views(self) -> None:
        """What the real trainer sends with each score: preview digits, the whole test set, the layers."""
        self._emit(scripted_samples(self.iteration))
        self._emit(scripted_test_predictions(self.dataset.t_test, self.iteration))
        self._emit(scripted_layer_stats(self.sizes, self.iteration))
        weights = np.linspace(-1, 1, self.sizes[1] * 784, dtype=np.float32).reshape(self.sizes[1], 28, 28)
        self._emit(ev.WeightImages(self.iteration, ev.frozen_copy(weights)))

    def _batch(self) -> None:
        self.iteration += 1
        epoch = self.iteration * self.config.batch_size / len(self.dataset.x_train)
        loss = self.next_losses.pop(0) if self.next_losses else scripted_loss(self.iteration)
        self._emit(ev.BatchDone(self.iteration, epoch, loss, self.config.lr, SAMPLES_PER_S))
        if self.config.epochs is None and self.iteration >= self.config.iters:
            self.finish()


# ---- data, loaders and runs for tests ------------------------------------------------------

TOY = make_dataset(n_train=200, n_test=50, side=28)
FAKE_CONFIG = TrainConfig(hidden_sizes=(50,), iters=1000, batch_size=100, preview_count=SAMPLE_COUNT)


def toy_loader(name: str, data_dir=None, progress=None, **kwargs) -> Dataset:
    return TOY


class BlockingLoader:
    """A loader that reports download progress, then waits for `release` before returning."""

    def __init__(self, result: Dataset | Exception = TOY):
        self.result = result
        self.release = threading.Event()
        self.called = threading.Event()

    def __call__(self, name: str, data_dir=None, progress=None, **kwargs) -> Dataset:
        if progress is not None:
            progress(ev.DownloadProgress("train-images-idx3-ubyte.gz", 4_200_000, 9_912_422))
        self.called.set()
        self.release.wait(10)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def failing_loader(message: str) -> Callable[..., Dataset]:
    def load(name: str, data_dir=None, progress=None, **kwargs) -> Dataset:
        raise DatasetError(message)
    return load


def points(series) -> tuple[list[int], list[float]]:
    """Every (iteration, value) of a short series (engine.history.Pyramid: exact up to twice its capacity)."""
    if not len(series):
        return [], []
    summary = series.query(series.first_iteration, series.last_iteration, len(series))
    assert (summary.count == 1).all(), "a series too long to hold exactly"
    return summary.iteration.astype(int).tolist(), summary.low.tolist()


def write_run(root, lr: float, losses: list[float], test_acc: list[float], finished: bool):
    """A run directory as a training process leaves it (config and event log)."""
    import json

    from engine.runs import event_record, new_run_dir

    config = dataclasses.replace(FAKE_CONFIG, lr=lr)
    run = new_run_dir(root, config, "784-16-10")
    events = [ev.Started(config, "784-16-10", "mnist", 100, 50)]
    events += [ev.BatchDone(i + 1, (i + 1) / 10, loss, lr, 1000.0) for i, loss in enumerate(losses)]
    events += [ev.EpochDone(n + 1, 10 * (n + 1), acc, acc) for n, acc in enumerate(test_acc)]
    events += [ev.Finished(len(losses), 1.0)] if finished else []
    (run / "events.jsonl").write_text("".join(json.dumps(event_record(e)) + "\n" for e in events))
    return run


# ---- the real engine on tiny data (tests/tui/test_real_engine.py, test_runs_and_attach.py) --------

REAL = TrainConfig(hidden_sizes=(16,), iters=30, batch_size=20, preview_count=20, seed=0)
TINY = make_dataset(n_train=200, n_test=50, side=28)


def tiny_loader(name, data_dir=None, progress=None, **kwargs):
    return TINY
