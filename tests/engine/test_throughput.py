"""Samples/s of whole work over a sliding window (engine/throughput.py), on a scripted clock and a real run."""
from __future__ import annotations

import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.throughput import MARKS, Throughput, seconds_left
from engine.trainer import Trainer
from tests.conftest import make_dataset


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_counts_the_time_between_batches_as_work():
    clock = Clock()
    throughput = Throughput(window=10.0, clock=clock)
    throughput.start()
    for step in range(1, 201):
        clock.now += 0.001  # a step
        if step % 50 == 0:
            clock.now += 0.05  # an epoch's scoring: as long as 50 steps
        rate = throughput.done(100)
    assert rate == pytest.approx(200 * 100 / (200 * 0.001 + 4 * 0.05))


def test_a_pause_is_not_work():
    clock = Clock()
    throughput = Throughput(window=10.0, clock=clock)
    throughput.start()
    for _ in range(100):
        clock.now += 0.01
        throughput.done(10)
    throughput.pause()
    throughput.pause()  # twice: still the first pause's moment
    clock.now += 500.0
    throughput.resume()
    clock.now += 0.01
    assert throughput.done(10) == pytest.approx(1000.0)


def test_the_window_slides_to_a_new_speed_and_stays_small():
    clock = Clock()
    throughput = Throughput(window=5.0, clock=clock)
    throughput.start()
    for _ in range(100_000):
        clock.now += 0.001
        throughput.done(1)  # 1,000 samples/s ...
    for _ in range(20_000):
        clock.now += 0.001
        rate = throughput.done(4)  # ... then 4,000 (a larger batch at the same step time)
    assert rate == pytest.approx(4000, rel=0.02)
    assert len(throughput._marks) <= MARKS + 2


def test_seconds_left_is_unknown_without_a_rate():
    assert seconds_left(1000, 0.0) is None
    assert seconds_left(1000, 500.0) == 2.0
    assert seconds_left(-5, 500.0) == 0.0


def test_a_real_runs_rate_includes_its_epoch_end_scoring():
    """Scoring 20,000 test images every 10 steps of 20 dominates this run: the rate must show it."""
    data = make_dataset(n_train=200, n_test=20_000, side=16)
    events = []
    trainer = Trainer(data, TrainConfig(hidden_sizes=(8,), batch_size=20, iters=200, preview_count=0,
                                        insight_every=0), events.append)
    trainer.start()
    assert trainer.join(timeout=60)
    finished = next(e for e in events if isinstance(e, ev.Finished))
    last = [e for e in events if isinstance(e, ev.BatchDone)][-1]
    true_rate = 200 * 20 / finished.seconds
    # The window holds the whole run; one step's speed would be many times the true rate.
    assert true_rate / 2 < last.samples_per_s < true_rate * 2
