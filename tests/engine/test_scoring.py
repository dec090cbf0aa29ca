"""Scores computed off the training thread: on a snapshot, in order, one at a time, stoppable, failures reported."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine import events as ev
from engine import network as network_module
from engine import trainer as trainer_module
from engine.config import TrainConfig
from engine.controls import RunState
from engine.network import Network, fraction_correct
from engine.scoring import Scorer
from engine.trainer import Trainer
from tests.conftest import EventLog

SMALL = TrainConfig(hidden_sizes=(8,), batch_size=20, iters=60, preview_count=12)  # 400 samples: 20 batches an epoch


class ParamsLog(EventLog):
    """Records events, a copy of the parameters at each batch (the worker calls the sink right after the
    update, before any score of that iteration is taken), and runs `on_batch[iteration]` when it is done."""

    def __init__(self, on_batch=None):
        super().__init__()
        self.on_batch = on_batch or {}
        self.trainer: Trainer | None = None
        self.params: dict[int, dict[str, np.ndarray]] = {}

    def watch(self, trainer: Trainer) -> Trainer:
        self.trainer = trainer
        self.params[trainer.iteration] = self._copy()
        return trainer

    def _copy(self):
        return {key: p.copy() for key, p in self.trainer.network.params.items()}

    def __call__(self, event):
        if isinstance(event, ev.BatchDone):
            self.params[event.iteration] = self._copy()
        super().__call__(event)
        if isinstance(event, ev.BatchDone) and event.iteration in self.on_batch:
            self.on_batch[event.iteration]()


def before_scoring(monkeypatch, hook) -> None:
    """Run hook(iteration) in the scoring thread before each score is computed (it may wait, or raise)."""
    score = Scorer._score

    def hooked(self, network, iteration, epoch):
        hook(iteration)
        return score(self, network, iteration, epoch)

    monkeypatch.setattr(Scorer, "_score", hooked)


def index(log: EventLog, predicate) -> int:
    return next(i for i, e in enumerate(log.events) if predicate(e))


def run(trainer: Trainer) -> None:
    trainer.start()
    assert trainer.join(timeout=30)
    assert trainer.state == RunState.FINISHED


def test_scores_equal_a_direct_evaluation_of_their_snapshot_while_training_goes_on(toy, monkeypatch):
    released = threading.Event()
    before_scoring(monkeypatch, lambda iteration: iteration != 20 or released.wait(10))
    log = ParamsLog(on_batch={25: released.set})  # epoch 1's score is held until batch 25 is trained
    trainer = log.watch(Trainer(toy, SMALL.with_changes(iters=50), log))
    run(trainer)

    scores = log.of((ev.EpochDone, ev.Evaluated))
    assert [(type(s), s.iteration) for s in scores] == [
        (ev.EpochDone, 0), (ev.EpochDone, 20), (ev.EpochDone, 40), (ev.Evaluated, 50)]  # the last before Finished
    assert isinstance(log.events[-1], ev.Finished) and index(log, lambda e: e is scores[-1]) < len(log.events) - 1
    # Training went on while epoch 1 was scored: batch 25 was done before its score came.
    assert index(log, lambda e: isinstance(e, ev.BatchDone) and e.iteration == 25) < index(log, lambda e: e is scores[1])
    predictions, samples = log.of(ev.TestPredictions), log.of(ev.Samples)
    assert [p.iteration for p in predictions] == [s.iteration for s in samples] == [0, 20, 40, 50]
    for score, sent, preview in zip(scores, predictions, samples):
        net = Network(toy.input_size, SMALL.hidden_sizes, toy.num_classes)
        for key, p in net.params.items():
            np.copyto(p, log.params[score.iteration][key])
        probabilities = net.probabilities(toy.x_test)
        assert score.train_acc == net.accuracy(toy.x_train, toy.t_train)
        assert score.test_acc == fraction_correct(probabilities.argmax(axis=1), toy.t_test)
        np.testing.assert_array_equal(sent.probabilities, probabilities)
        np.testing.assert_array_equal(preview.probabilities, probabilities[:12])
    later = Network(toy.input_size, SMALL.hidden_sizes, toy.num_classes)
    for key, p in later.params.items():
        np.copyto(p, log.params[25][key])
    assert not np.array_equal(later.probabilities(toy.x_test), predictions[1].probabilities)  # not the live network's


def test_an_epoch_that_ends_while_the_last_is_scored_waits_for_it(toy, monkeypatch):
    reached_40, trained_41 = threading.Event(), threading.Event()

    def hold(iteration):
        if iteration == 20:
            assert reached_40.wait(10)  # epoch 2 has ended while epoch 1 is still being scored
            trained_41.wait(0.1)  # a trainer that did not wait would train batch 41 now

    before_scoring(monkeypatch, hold)
    log = ParamsLog(on_batch={40: reached_40.set, 41: trained_41.set})
    run(log.watch(Trainer(toy, SMALL, log)))
    epochs = log.of(ev.EpochDone)
    assert [(e.epoch, e.iteration) for e in epochs] == [(0, 0), (1, 20), (2, 40), (3, 60)]  # every epoch scored
    assert index(log, lambda e: e is epochs[1]) < index(log, lambda e: isinstance(e, ev.BatchDone) and e.iteration == 41)


def test_same_seed_same_parameters_whether_or_not_scoring_overlaps(toy, monkeypatch):
    plain = ParamsLog()
    first = plain.watch(Trainer(toy, SMALL, plain))
    run(first)
    releases = {k: threading.Event() for k in (0, 20, 40)}
    before_scoring(monkeypatch, lambda iteration: iteration not in releases or releases[iteration].wait(10))
    overlapped = ParamsLog(on_batch={k + 5: releases[k].set for k in releases})  # each score held 5 batches
    second = overlapped.watch(Trainer(toy, SMALL, overlapped))
    run(second)
    held = overlapped.of(ev.EpochDone)[1]
    assert index(overlapped, lambda e: isinstance(e, ev.BatchDone) and e.iteration == 25) < \
        index(overlapped, lambda e: e is held)
    assert [b.loss for b in plain.of(ev.BatchDone)] == [b.loss for b in overlapped.of(ev.BatchDone)]
    for key, p in first.network.params.items():
        np.testing.assert_array_equal(second.network.params[key], p)
    assert plain.of(ev.EpochDone) == overlapped.of(ev.EpochDone)


def test_stop_while_the_final_score_runs_ends_promptly(toy, log, monkeypatch):
    release = threading.Event()
    before_scoring(monkeypatch, lambda iteration: iteration != 20 or release.wait(10))
    trainer = Trainer(toy, SMALL.with_changes(iters=20), log)
    try:
        trainer.start()
        log.wait_kind(ev.BatchDone, 20)  # the last batch: the worker now waits for its score
        began = time.perf_counter()
        assert trainer.stop(timeout=2)
        assert time.perf_counter() - began < 1.0
    finally:
        release.set()
    assert trainer.state == RunState.STOPPED and not log.of(ev.Finished)
    assert 20 not in [e.iteration for e in log.of(ev.EpochDone)]


def test_a_cancelled_score_stops_between_chunks(toy, monkeypatch):
    monkeypatch.setattr(network_module, "ACCURACY_CHUNK", 50)  # the training set in 8 chunks
    entered, release, chunks = threading.Event(), threading.Event(), []
    predict = Network.predict

    def slow_predict(self, x):
        chunks.append(len(x))
        entered.set()
        assert release.wait(10)
        return predict(self, x)

    monkeypatch.setattr(Network, "predict", slow_predict)
    scorer = Scorer(toy, 0, finished=lambda: None)
    scorer.submit(Network(toy.input_size, (8,), toy.num_classes), 0, None)
    assert entered.wait(10)
    scorer.cancel()
    release.set()
    for thread in [t for t in threading.enumerate() if t.name == "backprop-scorer"]:
        thread.join(10)
    assert chunks == [50]  # the chunk under way finished; no other began
    assert not scorer.ready and scorer.take() == []  # nothing to send: the run is over


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_a_failure_in_the_scorer_is_reported(toy, log, monkeypatch, paused):
    # A paused worker sleeps until woken: the scorer must wake it (no polling to rescue it here).
    monkeypatch.setattr(trainer_module, "IDLE_WAIT", 60.0)
    failing = 0 if paused else 20

    def hook(iteration):
        if iteration == failing:
            raise RuntimeError("boom in scoring")

    before_scoring(monkeypatch, hook)
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=paused)
    failed = log.wait_kind(ev.Failed)[0]
    assert failed.message == "RuntimeError: boom in scoring"
    assert trainer.join(timeout=2) and trainer.state == RunState.FAILED
    assert not log.of(ev.EpochDone) if paused else [e.iteration for e in log.of(ev.EpochDone)] == [0]


def test_a_paused_worker_sends_a_score_when_it_is_ready(toy, log, monkeypatch):
    monkeypatch.setattr(trainer_module, "IDLE_WAIT", 60.0)
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=True)
    log.wait_kind(ev.Samples)  # the score before training, sent by the idle worker when the scorer woke it
    trainer.request_evaluation()
    assert log.wait_kind(ev.Evaluated)[0].iteration == 0
    assert trainer.stop(timeout=2)


def test_the_cli_epoch_line_averages_that_epoch_s_batches(data_dir, tmp_path, capsys, monkeypatch):
    from engine.cli import main
    from engine.runs import read_events

    trained_10 = threading.Event()
    emit = Trainer._emit

    def watching(self, event):
        emit(self, event)
        if isinstance(event, ev.BatchDone) and event.iteration == 10:
            trained_10.set()

    monkeypatch.setattr(Trainer, "_emit", watching)
    before_scoring(monkeypatch, lambda iteration: iteration != 8 or trained_10.wait(10))  # epoch 1 scored late
    assert main(["train", "--data-dir", str(data_dir), "--iters", "16", "--batch-size", "50", "--hidden", "8",
                 "--weight-init", "he", "--runs-dir", str(tmp_path / "runs")]) == 0  # 400 digits: 8 batches an epoch
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    (run_dir,) = (tmp_path / "runs").iterdir()
    losses = [r["loss"] for r in read_events(run_dir) if r["event"] == "BatchDone"]  # float32 in the log
    assert [(line[1], line[3], line[5]) for line in lines[:1]] == [("0", "0", "-")]
    assert [(line[1], line[3]) for line in lines[1:]] == [("1", "8"), ("2", "16")]
    assert abs(np.mean(losses[:10]) - np.mean(losses[:8])) > 1e-3  # counting batches 9 and 10 would show
    assert float(lines[1][5]) == pytest.approx(np.mean(losses[:8]), abs=1e-4)  # printed to 4 decimals
    assert float(lines[2][5]) == pytest.approx(np.mean(losses[8:]), abs=1e-4)
