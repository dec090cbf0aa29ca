"""The book's settings on real MNIST digits (the shared t10k set): skipped when ../shared is absent."""
from __future__ import annotations

import numpy as np
import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.dataset import Dataset
from engine.gradcheck import gradient_check
from engine.idx import read_idx
from engine.network import TwoLayerNet
from engine.trainer import Trainer
from tests.conftest import SHARED_MNIST, EventLog

pytestmark = pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not present")


@pytest.fixture(scope="module")
def t10k():
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz").reshape(10000, 784)
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    return Dataset("mnist-t10k", images[:8000], labels[:8000], images[8000:], labels[8000:])


def test_book_settings_reach_90_percent_in_2000_iterations(t10k):
    log = EventLog()
    trainer = Trainer(t10k, TrainConfig(iters=2000, preview_count=0), log)
    trainer.start()
    assert trainer.join(timeout=120)
    final = log.of(ev.EpochDone)[-1]
    assert final.iteration == 2000
    assert final.test_acc >= 0.90


def test_gradient_check_on_real_digits_beats_the_books_magnitudes(t10k):
    rows = gradient_check(TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0)),
                          t10k.x_train[:3] / 255.0, t10k.t_train[:3])
    book = {"W1": 2e-7, "b1": 2e-6, "W2": 6e-9, "b2": 1e-7}
    for row in rows:
        assert row.passed and row.checked == row.count
        assert row.mean_abs_diff < book[row.name]
