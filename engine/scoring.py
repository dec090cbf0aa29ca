"""Scoring a snapshot of the network on the whole training and test sets, in a thread of its own.

The trainer hands over its network at an epoch end (or when asked) and trains on: the scorer
copies the parameters first, so it never reads the live ones, and runs its own layers (a
forward pass keeps state in them). NumPy releases the GIL in the matrix products, so on a
second core a score costs the training loop little. The scorer never calls the sink: it makes
the events, and the trainer's worker sends them between batches, so the sink keeps one thread.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from . import events as ev
from .dataset import Dataset
from .network import Network, ScoringCancelled, fraction_correct


class Scorer:
    """Scores one snapshot at a time; the trainer's worker calls submit() and take(), nothing else does.

    `finished` is called on the scoring thread when a score (or its failure) is ready to take.
    """

    def __init__(self, dataset: Dataset, preview_count: int, finished: Callable[[], None]):
        self._dataset = dataset
        self._preview_count = preview_count
        self._finished = finished
        self._thread: threading.Thread | None = None  # the score submitted and not yet taken
        self._outcome: list[ev.Event] | Exception | None = None  # set once by the scoring thread
        self._cancelled = threading.Event()

    @property
    def busy(self) -> bool:
        """A score is being computed."""
        return self._thread is not None and self._outcome is None

    @property
    def ready(self) -> bool:
        """A score (or its failure) waits to be taken."""
        return self._outcome is not None

    def submit(self, network: Network, iteration: int, epoch: int | None) -> None:
        """Start scoring a copy of `network` as it is now: an EpochDone for `epoch`, or an Evaluated when None."""
        if self._thread is not None:
            raise RuntimeError("one score at a time: take the last one first")
        snapshot = network.astype(network.dtype)  # copies: training goes on with the originals
        self._thread = threading.Thread(target=self._run, args=(snapshot, iteration, epoch),
                                        name="backprop-scorer", daemon=True)
        self._thread.start()

    def take(self) -> list[ev.Event]:
        """The finished score's events ([] while it runs, or when none was submitted); raises what scoring raised."""
        outcome = self._outcome
        if outcome is None:
            return []
        self._thread, self._outcome = None, None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def cancel(self) -> None:
        """Abandon the score under way (it ends before its next chunk) and any later one: the run is over."""
        self._cancelled.set()

    def _run(self, network: Network, iteration: int, epoch: int | None) -> None:
        try:
            with np.errstate(all="ignore"):  # per thread, as in the trainer's worker: NaN is reported, not warned
                outcome = self._score(network, iteration, epoch)
        except ScoringCancelled:
            return  # nobody waits for it
        except Exception as exc:  # handed to the worker, which reports it as Failed
            outcome = exc
        self._outcome = outcome
        self._finished()

    def _score(self, network: Network, iteration: int, epoch: int | None) -> list[ev.Event]:
        data, cancelled = self._dataset, self._cancelled.is_set
        train_acc = network.accuracy(data.x_train, data.t_train, cancelled)
        probabilities = network.probabilities(data.x_test, cancelled)
        predictions = probabilities.argmax(axis=1)
        test_acc = fraction_correct(predictions, data.t_test)
        score = (ev.Evaluated(iteration, train_acc, test_acc) if epoch is None
                 else ev.EpochDone(epoch, iteration, train_acc, test_acc))
        events = [score, ev.TestPredictions(iteration, ev.frozen_copy(predictions),
                                            ev.frozen_copy(probabilities.astype(np.float32, copy=False)))]
        count = min(self._preview_count, len(data.x_test))
        if count:  # the first preview_count test digits, with the predictions just made for the whole test set
            events.append(ev.Samples(
                images=ev.frozen_copy(data.x_test[:count].reshape(count, *data.image_shape)),
                labels=ev.frozen_copy(data.t_test[:count]),
                predictions=ev.frozen_copy(predictions[:count]),
                probabilities=ev.frozen_copy(probabilities[:count]),
                iteration=iteration,
            ))
        return events
