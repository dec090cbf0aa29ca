"""Checkpoints: exact resume, refusal of pickles, corrupt files and other architectures."""
from __future__ import annotations

import numpy as np
import pytest

from engine import events as ev
from engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from engine.config import TrainConfig
from engine.controls import RunState
from engine.trainer import Trainer
from tests.conftest import EventLog, make_dataset

BASE = TrainConfig(hidden_sizes=(8,), batch_size=20, weight_init="he", preview_count=0)


def run(trainer: Trainer) -> EventLog:
    log = EventLog()
    trainer.sink = log
    trainer.start()
    assert trainer.join(timeout=30) and trainer.state == RunState.FINISHED
    return log


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.01)])
def test_two_epochs_equal_one_epoch_then_resume_then_one(tmp_path, optimizer, lr):
    toy = make_dataset()
    config = BASE.with_changes(optimizer=optimizer, lr=lr, epochs=2)
    straight = Trainer(toy, config)
    straight_log = run(straight)

    first = Trainer(toy, config.with_changes(epochs=1))
    run(first)
    save_checkpoint(tmp_path / "ck.npz", first.checkpoint())
    resumed = Trainer.from_checkpoint(toy, load_checkpoint(tmp_path / "ck.npz"), config=config)
    resumed_log = run(resumed)

    # Bit-equal on purpose: resuming must replay exactly the same arithmetic (same process, same BLAS
    # kernels, same batch shapes), so any difference is a resume bug, not rounding.
    for key, p in straight.network.params.items():
        np.testing.assert_array_equal(resumed.network.params[key], p)
    second_epoch = [b.loss for b in straight_log.of(ev.BatchDone)][20:]
    assert [b.loss for b in resumed_log.of(ev.BatchDone)] == second_epoch
    assert [b.iteration for b in resumed_log.of(ev.BatchDone)] == list(range(21, 41))
    assert [e.epoch for e in resumed_log.of(ev.EpochDone)] == [2]  # no repeated epoch point


def test_resume_mid_epoch_continues_the_same_shuffle(tmp_path):
    toy = make_dataset()
    straight = Trainer(toy, BASE.with_changes(iters=50))
    run(straight)
    first = Trainer(toy, BASE.with_changes(iters=27))
    run(first)
    save_checkpoint(tmp_path / "ck.npz", first.checkpoint())
    resumed = Trainer.from_checkpoint(toy, load_checkpoint(tmp_path / "ck.npz"), config=BASE.with_changes(iters=50))
    run(resumed)
    assert resumed.iteration == 50
    for key, p in straight.network.params.items():  # bit-equal on purpose, as above
        np.testing.assert_array_equal(resumed.network.params[key], p)


def test_checkpoint_on_request_while_running(tmp_path):
    toy = make_dataset()
    log = EventLog()
    trainer = Trainer(toy, BASE.with_changes(iters=10_000_000), log)
    trainer.start()
    log.wait_kind(ev.BatchDone, 5)
    trainer.request_checkpoint(tmp_path / "live.npz")
    saved = log.wait_kind(ev.CheckpointSaved)[0]
    trainer.stop()
    checkpoint = load_checkpoint(saved.path)
    assert checkpoint.iteration == saved.iteration >= 5
    assert checkpoint.architecture == "16-8-10" and checkpoint.config == trainer.config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.npz"]  # no temp file left


def test_an_unwritable_checkpoint_is_reported_and_a_bare_trainer_goes_on(tmp_path):
    toy = make_dataset()
    log = EventLog()
    trainer = Trainer(toy, BASE.with_changes(iters=10_000_000), log)
    (tmp_path / "missing-folder").write_text("a file where a folder should be")
    trainer.start()
    trainer.request_checkpoint(tmp_path / "missing-folder" / "sub" / "x.npz")
    failed = log.wait_kind(ev.WriteFailed)[0]
    count = len(log.of(ev.BatchDone))
    log.wait_kind(ev.BatchDone, count + 5)
    trainer.stop()
    assert "x.npz" in failed.path and failed.message


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"format": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickled objects; refused"):
        load_checkpoint(path)


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    toy = make_dataset()
    trainer = Trainer(toy, BASE.with_changes(iters=5))
    run(trainer)
    good = tmp_path / "good.npz"
    save_checkpoint(good, trainer.checkpoint())
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    (tmp_path / "text.npz").write_text("not a checkpoint")
    for name in ("truncated.npz", "text.npz", "absent.npz"):
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    assert load_checkpoint(good).iteration == 5


def test_other_architecture_is_refused_with_both_named(tmp_path):
    toy = make_dataset()
    trainer = Trainer(toy, BASE.with_changes(iters=3))
    run(trainer)
    checkpoint = trainer.checkpoint()
    with pytest.raises(CheckpointError, match="16-8-10 relu.*16-12-10 relu"):
        Trainer.from_checkpoint(toy, checkpoint, config=BASE.with_changes(hidden_sizes=(12,)))
    with pytest.raises(CheckpointError, match="trained on 400 samples; this dataset has 100"):
        Trainer.from_checkpoint(make_dataset(n_train=100), checkpoint)
