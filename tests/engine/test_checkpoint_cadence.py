"""Epoch checkpoints by time: at most one per `CheckpointPolicy.every` seconds, plus at stop and on demand."""
from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

import engine.runs as runs_module
from engine import events as ev
from engine.config import TrainConfig
from engine.options import add_run_options, checkpoint_policy
from engine.runs import CHECKPOINT_EVERY, CheckpointPolicy, RunLog, new_run_dir


class Trainer:
    """A stand-in that counts the checkpoints the log asks for."""

    def __init__(self):
        self.asked = 0

    def request_checkpoint(self, path):
        self.asked += 1


@pytest.fixture
def clock(monkeypatch):
    now = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(runs_module, "time", SimpleNamespace(monotonic=lambda: now.t))
    return now


def epochs_checkpointed(tmp_path, clock, policy, epoch_seconds, epochs, saved_at=()):
    """The epochs at whose end the log asks for a checkpoint, an epoch ending every `epoch_seconds`."""
    log = RunLog(new_run_dir(tmp_path, TrainConfig(hidden_sizes=(8,)), "16-8-10"), policy=policy)
    log.trainer = trainer = Trainer()
    asked = []
    try:
        for epoch in range(1, epochs + 1):
            clock.t += epoch_seconds
            before = trainer.asked
            log(ev.BatchDone(10 * epoch - 5, epoch - 0.5, 0.5, 0.1, 100.0))  # mid-epoch: never a checkpoint
            log(ev.BatchDone(10 * epoch, float(epoch), 0.5, 0.1, 100.0))  # the batch that ends the epoch
            if trainer.asked > before:
                asked.append(epoch)
            if trainer.asked > before or epoch in saved_at:  # saved as asked, or by hand (key c)
                log(ev.CheckpointSaved(str(log.checkpoint_path(10 * epoch)), 10 * epoch))
    finally:
        log.close()
    return asked


def test_at_most_one_epoch_checkpoint_per_period(tmp_path, clock):
    # An epoch every 4 s, a checkpoint at most every 30 s: at 32 s, 64 s, 96 s.
    assert epochs_checkpointed(tmp_path, clock, CheckpointPolicy(every=30), 4.0, 25) == [8, 16, 24]


def test_a_checkpoint_saved_by_hand_restarts_the_period(tmp_path, clock):
    assert epochs_checkpointed(tmp_path, clock, CheckpointPolicy(every=30), 4.0, 25, saved_at={5}) == [13, 21]


def test_zero_means_every_epoch_and_slow_epochs_are_each_saved(tmp_path, clock):
    assert epochs_checkpointed(tmp_path, clock, CheckpointPolicy(every=0), 0.01, 4) == [1, 2, 3, 4]
    assert epochs_checkpointed(tmp_path / "b", clock, CheckpointPolicy(), 45.0, 3) == [1, 2, 3]


def test_the_flag_sets_the_period_and_refuses_nonsense(capsys):
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    assert checkpoint_policy(parser.parse_args([])) == CheckpointPolicy(every=CHECKPOINT_EVERY)
    assert checkpoint_policy(parser.parse_args(["--checkpoint-every", "0", "--keep-checkpoints", "2"])) \
        == CheckpointPolicy(keep=2, every=0.0)
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--checkpoint-every", bad])
        assert "--checkpoint-every" in capsys.readouterr().err
