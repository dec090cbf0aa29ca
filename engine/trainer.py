"""The training loop, run in a worker thread the trainer owns.

Controls (start, pause, resume, step, stop, set, request_*: engine.controls.Controls) may be called
from any thread: they validate their argument at once (raising ValueError and
changing nothing when it is wrong) and queue a command that the worker runs
before its next batch, so every change lands between batches and in order.
Events go to `sink`, called on the worker thread; the sink must not block.

Scores (accuracy on the whole training and test sets: at the start, at each epoch end, on
request and at the end) are computed on a copy of the parameters in a second thread
(engine.scoring), while training goes on; the worker sends a score's events between batches
once it is ready, so they carry the iteration of the snapshot, not the current one. One score
is in flight at a time: an epoch that ends while the previous score still runs waits for it,
so every epoch is scored and memory stays bounded.
"""
from __future__ import annotations

import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

import numpy as np

from . import events as ev
from .checkpoint import Checkpoint, CheckpointError, save_checkpoint
from .config import TrainConfig
from .controls import CheckpointPath, RunState, checked_setting
from .dataset import Dataset
from .functions import as_float
from .gradcheck import GradCheckCancelled, gradient_check
from .insight import layer_stats, weight_images
from .network import Network
from .optimizers import make_optimizer, optimizer_state, restore_optimizer
from .scoring import Scorer
from .throughput import Throughput

IDLE_WAIT = 0.25  # seconds a paused worker sleeps between checks; commands wake it at once


class _Stop(Exception):
    """Raised inside the worker to unwind promptly when stop() was called."""


class Trainer:
    def __init__(
        self,
        dataset: Dataset,
        config: TrainConfig = TrainConfig(),
        sink: Callable[[ev.Event], None] = lambda event: None,
        network: Network | None = None,
    ):
        self.dataset = dataset
        self.config = config
        self.sink = sink  # may be replaced before start()
        init_seed, data_seed = np.random.SeedSequence(config.seed).spawn(2)
        self._rng = np.random.default_rng(data_seed)
        self.network = network or Network(
            dataset.input_size, config.hidden_sizes, dataset.num_classes,
            config.activation, config.init, np.dtype(config.dtype), np.random.default_rng(init_seed),
        )
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.iteration = 0
        self.epochs_done = 0
        self.state = RunState.IDLE  # a RunState, which compares equal to its plain word
        self._order = self._rng.permutation(len(dataset.x_train))
        self._cursor = 0
        self._buffers: dict[int, np.ndarray] = {}
        self.throughput = Throughput()  # whole work, this process: what an ETA needs
        self._rate = 0.0
        self._last_scored_iteration = -1  # the snapshot the latest score was asked for
        self._last_good: dict[str, np.ndarray] | None = None  # parameters before the latest update
        self._insight: tuple[ev.LayerStats, ev.WeightImages] | None = None  # the latest, to resend at its iteration
        self._pending_steps = 0
        self._commands: deque[tuple] = deque()
        self._wake = threading.Condition()
        self._stop_requested = False
        self._scorer = Scorer(dataset, config.preview_count, finished=self._notify)
        self._thread: threading.Thread | None = None

    # ---- controls (any thread) -------------------------------------------------

    def start(self, paused: bool = False) -> None:
        if self._thread is not None:
            raise RuntimeError("this trainer has already been started")
        self.state = RunState.PAUSED if paused else RunState.RUNNING
        self._thread = threading.Thread(target=self._run, name="backprop-trainer", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._queue("pause")

    def resume(self) -> None:
        self._queue("resume")

    def step(self) -> None:
        """Run exactly one batch, then stay paused (pauses first if running)."""
        self._queue("step")

    def set(self, name: str, value) -> None:
        checked_setting(self.config, name, value)  # raises ConfigError; nothing is queued
        self._queue("set", name, value)

    def request_gradcheck(self) -> None:
        self._queue("gradcheck")

    def request_evaluation(self) -> None:
        self._queue("evaluate")

    def request_checkpoint(self, path: CheckpointPath | None = None) -> None:
        """Save a checkpoint between batches (emits CheckpointSaved, or WriteFailed).

        `path` may be a function of the iteration the checkpoint is taken at.
        """
        if path is None:
            raise ValueError("a trainer keeps no run of its own: say where to save the checkpoint")
        self._queue("checkpoint", path)

    def request_parameters(self) -> None:
        """Send a copy of the parameters (a Parameters event): between batches while the worker runs, at once
        when it does not (before the start, or after the end, nothing else touches them)."""
        if self.alive:
            self._queue("parameters")
        else:
            self._do_parameters()

    def _do_parameters(self) -> None:
        net = self.network
        params = {k: ev.frozen_copy(p) for k, p in net.params.items()}
        self._emit(ev.Parameters(self.iteration, tuple(net.sizes), net.activation, params, "the live network"))

    def checkpoint(self) -> Checkpoint:
        """The state to continue from (call it from the worker, or while no worker runs)."""
        arrays, scalars = optimizer_state(self.optimizer)
        return Checkpoint(
            config=self.config,
            architecture=self.network.architecture,
            iteration=self.iteration,
            epochs_done=self.epochs_done,
            cursor=self._cursor,
            order=self._order.copy(),
            rng_state=self._rng.bit_generator.state,
            params={k: p.copy() for k, p in self.network.params.items()},
            optimizer_arrays={k: a.copy() for k, a in arrays.items()},
            optimizer_scalars=scalars,
        )

    @classmethod
    def from_checkpoint(cls, dataset: Dataset, checkpoint: Checkpoint, sink=lambda event: None,
               config: TrainConfig | None = None) -> "Trainer":
        """A trainer that continues from `checkpoint` (optionally with changed settings, same network)."""
        config = config or checkpoint.config
        trainer = cls(dataset, config, sink)
        if trainer.network.architecture != checkpoint.architecture or config.activation != checkpoint.config.activation:
            raise CheckpointError(
                f"the checkpoint is for a {checkpoint.architecture} {checkpoint.config.activation} network; "
                f"these settings and data make {trainer.network.architecture} {config.activation}"
            )
        # load_checkpoint has checked that `order` is a shuffle of 0..len(order)-1: of the right length, it
        # indexes this training set.
        if len(checkpoint.order) != len(dataset.x_train):
            raise CheckpointError(f"the checkpoint was trained on {len(checkpoint.order):,} samples; "
                                  f"this dataset has {len(dataset.x_train):,}")
        for key, p in trainer.network.params.items():
            np.copyto(p, checkpoint.params[key])
        if config.optimizer == checkpoint.config.optimizer:
            restore_optimizer(trainer.optimizer, checkpoint.optimizer_arrays, checkpoint.optimizer_scalars)
        trainer.iteration, trainer.epochs_done = checkpoint.iteration, checkpoint.epochs_done
        trainer._order, trainer._cursor = checkpoint.order.copy(), checkpoint.cursor
        trainer._rng.bit_generator.state = checkpoint.rng_state
        return trainer

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the worker and wait for it; True when it has ended within `timeout`."""
        with self._wake:
            self._stop_requested = True
            self._wake.notify_all()
        if self._thread is None:
            self.state = RunState.STOPPED
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end by itself; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _queue(self, *command) -> None:
        with self._wake:
            self._commands.append(command)
            self._wake.notify_all()

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # ---- worker ------------------------------------------------------------------

    def _emit(self, event: ev.Event) -> None:
        self.sink(event)

    def _run(self) -> None:
        # Overflow and NaN are handled by the divergence check; numpy's warnings would only
        # scribble on the terminal (errstate is per thread, so the caller's settings are untouched).
        with np.errstate(all="ignore"):
            self._loop()

    def _loop(self) -> None:
        began = time.perf_counter()
        self.throughput.start()
        try:
            self._emit(ev.Started(self.config, self.network.architecture, self.dataset.name,
                                  len(self.dataset.x_train), len(self.dataset.x_test), self.iteration))
            if self.state == RunState.PAUSED:
                self.throughput.pause()
                self._emit(ev.Paused(self.iteration))
            self._score(epoch_end=self.iteration == 0)  # a resumed run re-scores, without a new epoch point
            while not self._done():
                self._send_score()
                self._run_commands()
                if self.state != RunState.RUNNING:
                    if self._pending_steps == 0:
                        self._idle()
                        continue
                    self._pending_steps -= 1
                self._check_stop()
                self._train_batch()
            self._finish_scoring()
            self._run_commands()  # what the last events asked for (a checkpoint at the last epoch)
            if self._last_scored_iteration != self.iteration:
                self._score(epoch_end=False)
            self._finish_scoring()  # the final score comes before Finished
            self.state = RunState.FINISHED
            self._emit(ev.Finished(self.iteration, time.perf_counter() - began))
        except (_Stop, GradCheckCancelled):
            self.state = RunState.STOPPED
        except Exception as exc:  # the worker must report, never die silently (nor the scorer: take() raises its error)
            self.state = RunState.FAILED
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self._emit(ev.Failed(detail))
        finally:
            self._scorer.cancel()  # a score still under way is abandoned: stop stays prompt

    def _check_stop(self) -> None:
        if self._stop_requested:
            raise _Stop

    def _idle(self) -> None:
        with self._wake:
            if not self._commands and not self._stop_requested and not self._scorer.ready:
                self._wake.wait(IDLE_WAIT)
        self._check_stop()

    def _done(self) -> bool:
        if self.config.epochs is not None:
            return self.epochs_done >= self.config.epochs
        return self.iteration >= self.config.iters

    def _run_commands(self) -> None:
        self._check_stop()
        while True:
            with self._wake:
                if not self._commands:
                    return
                name, *args = self._commands.popleft()
            getattr(self, f"_do_{name}")(*args)
            self._check_stop()

    def _do_pause(self) -> None:
        if self.state == RunState.RUNNING:
            self.state = RunState.PAUSED
            self.throughput.pause()
            self._emit(ev.Paused(self.iteration))

    def _do_resume(self) -> None:
        if self.state in (RunState.PAUSED, RunState.DIVERGED):
            self.state = RunState.RUNNING
            self.throughput.resume()
            self._pending_steps = 0
            self._emit(ev.Resumed(self.iteration))

    def _do_step(self) -> None:
        self._do_pause()
        self._pending_steps += 1

    def _do_set(self, name: str, value) -> None:
        old = getattr(self.config, name)
        if value == old:
            return
        self.config = self.config.with_changes(**{name: value})
        if name == "lr":
            self.optimizer.lr = value
        elif name == "optimizer":
            self.optimizer = make_optimizer(value, self.config.lr)
        self._emit(ev.ParamChanged(name, old, value, self.iteration))

    def _do_gradcheck(self) -> None:
        began = time.perf_counter()
        n = self.config.gradcheck_batch
        rows = gradient_check(
            self.network, as_float(self.dataset.x_train[:n], np.float64), self.dataset.t_train[:n],
            sample=self.config.gradcheck_sample, cancelled=lambda: self._stop_requested,
        )
        self._emit(ev.GradCheckDone(tuple(rows), self.iteration, time.perf_counter() - began))

    def _do_evaluate(self) -> None:
        self._score(epoch_end=False)

    def _do_checkpoint(self, path) -> None:
        path = path(self.iteration) if callable(path) else path
        try:
            save_checkpoint(path, self.checkpoint())
        except OSError as exc:  # a full disk must not kill the worker: the sink decides (a run log pauses)
            self._emit(ev.WriteFailed(str(path), exc.strerror or str(exc)))
            return
        self._emit(ev.CheckpointSaved(str(path), self.iteration))

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._order)
        if self._cursor >= n:
            self._order = self._rng.permutation(n)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.config.batch_size]
        self._cursor += len(idx)
        buffer = self._buffers.get(len(idx))
        if buffer is None:
            buffer = self._buffers[len(idx)] = np.empty((len(idx), self.dataset.input_size), self.network.dtype)
        return as_float(self.dataset.x_train[idx], self.network.dtype, out=buffer), self.dataset.t_train[idx]

    def _train_batch(self) -> None:
        x, t = self._next_batch()
        net = self.network
        loss = net.backprop(x, t)
        if not math.isfinite(loss):
            # These parameters give a NaN/inf loss: go back to the last ones that gave a finite loss.
            if self._last_good is not None:
                for key, p in net.params.items():
                    np.copyto(p, self._last_good[key])
            self.state = RunState.DIVERGED
            self.throughput.pause()
            self._pending_steps = 0
            self._emit(ev.Diverged(self.iteration + 1, loss))
            return
        if self._last_good is None:
            self._last_good = {key: np.empty_like(p) for key, p in net.params.items()}
        for key, p in net.params.items():  # cheaper than checking every gradient for inf
            np.copyto(self._last_good[key], p)
        self.optimizer.update(net.params, net.grads)
        self.iteration += 1
        if self.state == RunState.RUNNING:  # a batch stepped by hand is not a measure of speed
            self._rate = self.throughput.done(len(t))
        epoch = self.epochs_done + self._cursor / len(self._order)
        self._emit(ev.BatchDone(self.iteration, epoch, loss, self.optimizer.lr, self._rate))
        if self._cursor >= len(self._order):
            self.epochs_done += 1
            self._score(epoch_end=True)  # sends the insight events too
        every = self.config.insight_every
        if every and self.iteration % every == 0 and self._last_scored_iteration != self.iteration:
            self._emit_insight(self._insight_events())
        every = self.config.gradcheck_every
        if every and self.iteration % every == 0:
            self._do_gradcheck()

    def _score(self, epoch_end: bool) -> None:
        """Start scoring the parameters as they are now (waiting first for the score in flight, if any).

        The insight events describe this iteration too: they are sent now, in iteration order.
        """
        self._finish_scoring()
        self._emit_insight(self._insight_events())
        self._last_scored_iteration = self.iteration
        self._scorer.submit(self.network, self.iteration, self.epochs_done if epoch_end else None)

    def _finish_scoring(self) -> None:
        """Wait for the score in flight, if any, and send it."""
        while self._scorer.busy:
            with self._wake:
                if self._scorer.busy and not self._stop_requested:
                    self._wake.wait(IDLE_WAIT)
            self._check_stop()
        self._send_score()

    def _send_score(self) -> None:
        """Send a finished score's events (nothing when none is ready); a failure in the scorer raises here."""
        for event in self._scorer.take():
            self._emit(event)

    def _insight_events(self) -> tuple[ev.LayerStats, ev.WeightImages] | None:
        """Layer statistics and weight images now; None when off, or before this trainer has trained a batch.

        They describe the latest batch (its gradients and ReLU masks; scoring and the gradient check
        run on copies, so only the next batch overwrites them): made once per iteration and kept, as
        a score at that iteration sends them again.
        """
        if not self.config.insight_every or self._last_good is None:  # _last_good: set by the first good batch
            return None
        if self._insight is None or self._insight[0].iteration != self.iteration:
            self._insight = (
                ev.LayerStats(self.iteration, layer_stats(self.network)),
                ev.WeightImages(self.iteration, ev.frozen_copy(weight_images(self.network, self.dataset.image_shape))),
            )
        return self._insight

    def _emit_insight(self, insight: tuple[ev.LayerStats, ev.WeightImages] | None) -> None:
        if insight is not None:
            for event in insight:
                self._emit(event)
