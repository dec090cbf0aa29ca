"""The status line's ETA, from the trainer's rate of whole work, on a scripted clock.

A run is simulated step by step: each step costs 10 ms, each epoch end 2 s of scoring (a third of
the wall time, as on Fashion-MNIST at the book's settings), a checkpoint 0.5 s every fifth epoch, and
the user pauses it for a minute midway. The monitor sees what the trainer would send.
"""
from __future__ import annotations

import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.throughput import Throughput
from tui.state import MonitorState

STEP, SCORING, CHECKPOINT = 0.010, 2.0, 0.5
EPOCH = 600  # iterations per epoch: 60,000 samples in batches of 100


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(config: TrainConfig, train_size: int):
    """(iteration, seconds since start, the monitor's ETA) after every batch, and the run's end."""
    clock = Clock()
    throughput = Throughput(clock=clock)
    state = MonitorState(config)
    state.apply(ev.Started(config, "784-50-10", "sim", train_size, 10_000, 0))
    throughput.start()
    clock.now += SCORING  # the score before training
    total = config.iters if config.epochs is None else config.epochs * EPOCH
    seen = []
    for i in range(1, total + 1):
        clock.now += STEP
        rate = throughput.done(config.batch_size)
        state.apply(ev.BatchDone(i, i / EPOCH, 1.0, config.lr, rate))
        seen.append((i, clock.now, state.eta()))
        if i % EPOCH == 0:
            clock.now += SCORING + (CHECKPOINT if i % (5 * EPOCH) == 0 else 0.0)
        if i == total // 2:
            throughput.pause()
            clock.now += 60.0
            throughput.resume()
            paused_for = 60.0
    if total % EPOCH:
        clock.now += SCORING  # the final score
    end = clock.now - paused_for
    return [(i, t - (paused_for if i > total // 2 else 0.0), eta) for i, t, eta in seen], end


@pytest.mark.parametrize("config", [TrainConfig(iters=20_000, batch_size=100),
                                    TrainConfig(epochs=30, batch_size=100)], ids=["iters", "epochs"])
def test_eta_is_within_a_fifth_of_the_truth_from_a_tenth_of_the_run_on(config):
    seen, end = simulate(config, train_size=EPOCH * 100)
    total = len(seen)
    for i, t, eta in seen:
        truth = end - t
        if total // 10 <= i <= total * 0.95:
            assert abs(eta - truth) <= 0.2 * truth, (i, eta, truth)
        elif i > total * 0.95:
            # In the last stretch the error is the last scores (up to two: the last epoch's and the final
            # one), which a rate of past work spreads over steps but which come after the last step.
            assert abs(eta - truth) <= 2 * SCORING + 0.1, (i, eta, truth)


def test_a_single_steps_speed_would_have_missed_by_far():
    """The check above can fail: the old ETA (one step's speed) is off by more than a fifth here."""
    seen, end = simulate(TrainConfig(iters=20_000, batch_size=100), train_size=EPOCH * 100)
    i, t, _ = seen[len(seen) // 10]
    step_only = (20_000 - i) * STEP
    assert abs(step_only - (end - t)) > 0.2 * (end - t)
