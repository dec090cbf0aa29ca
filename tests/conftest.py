"""Shared fixtures and helpers: small generated datasets, a helper to wait for trainer events, a run log check."""
from __future__ import annotations

import json
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.dataset import Dataset

ROOT = Path(__file__).resolve().parents[1]  # the repository
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
FUZZ_SCALE = float(os.environ.get("FUZZ_SCALE", "1"))  # FUZZ_SCALE=20 for a deep run of the fuzz tests


def fuzz_examples(n: int) -> int:
    """Cases a fuzz test tries: `n` (sized so the suite stays within CI's time), times FUZZ_SCALE."""
    return max(1, round(n * FUZZ_SCALE))


def make_dataset(n_train=400, n_test=100, side=4, classes=10, seed=0) -> Dataset:
    """Separable toy digits: class c lights up pixel c (plus noise), as uint8 images side x side."""
    rng = np.random.default_rng(seed)

    def part(n):
        labels = rng.integers(0, classes, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, side * side)).astype(np.uint8)
        images[np.arange(n), labels] = 255
        return images, labels

    (x_train, t_train), (x_test, t_test) = part(n_train), part(n_test)
    return Dataset("toy", x_train, t_train, x_test, t_test, image_shape=(side, side),
                   class_names=tuple(str(c) for c in range(classes)))


@pytest.fixture
def toy() -> Dataset:
    return make_dataset()


class EventLog:
    """A thread-safe sink that records events and lets a test wait for one."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind):
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate, timeout=10.0):
        """Wait until predicate(events) is true; fail the test on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kinds = [type(e).__name__ for e in self.events[-10:]]
                    pytest.fail(f"timed out waiting for events; last events: {kinds}")
                self._cond.wait(remaining)
            return list(self.events)

    def wait_kind(self, kind, count=1, timeout=10.0):
        self.wait_for(lambda evs: sum(isinstance(e, kind) for e in evs) >= count, timeout)
        return self.of(kind)


@pytest.fixture
def log() -> EventLog:
    return EventLog()


def mnist_folder(folder: Path, dataset: Dataset) -> Path:
    """`folder`, made, holding `dataset` (28x28 digits) as the four MNIST files (IDX, gzip)."""
    from engine.idx import write_idx

    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", dataset.x_train.reshape(-1, 28, 28))
    write_idx(folder / "train-labels-idx1-ubyte.gz", dataset.t_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", dataset.x_test.reshape(-1, 28, 28))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", dataset.t_test)
    return folder


def trained_like(hidden=(50,), activation="relu", seed=0):
    """A float32 784-...-10 network with non-zero biases (a trained one's are), as the app's parameters are."""
    from engine.network import Network

    rng = np.random.default_rng(seed)
    net = Network(784, hidden, 10, activation, "he", rng=rng)
    for key, p in net.params.items():
        if key.startswith("b"):
            p[...] = rng.normal(0, 0.1, p.shape)
    return net


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A folder of the four MNIST files (IDX, gzip) holding 400 + 100 toy digits of 28x28."""
    return mnist_folder(tmp_path / "data", make_dataset(n_train=400, n_test=100, side=28))


def assert_whole_log(run: Path) -> list[dict]:
    """Every line of the run's log is a whole JSON record, and the batches are numbered without a gap."""
    raw = (run / "events.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode().splitlines()]
    batches = [i for r in records if r["event"] == "Batches" for i in range(r["first"], r["first"] + len(r["losses"]))]
    assert batches == list(range(1, len(batches) + 1))
    return records


def logged_batches(run: Path) -> list[int]:
    """The iterations of the batches in a run's log, which may be being written (a cut-short last line is normal)."""
    from engine.records import TruncatedLogWarning
    from engine.runs import read_events

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedLogWarning)
        return [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"]
