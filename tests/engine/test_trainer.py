"""The threaded trainer: controls, events, determinism, divergence and failures."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.controls import RunState
from engine.dataset import Dataset
from engine.trainer import Trainer
from tests.conftest import EventLog, make_dataset

SMALL = TrainConfig(hidden_sizes=(8,), batch_size=20, iters=60, preview_count=12)


def run_to_end(dataset, config) -> EventLog:
    log = EventLog()
    trainer = Trainer(dataset, config, log)
    trainer.start()
    assert trainer.join(timeout=30)
    assert trainer.state == RunState.FINISHED
    return log


def test_runs_to_finish_with_events_in_order(toy):
    log = run_to_end(toy, SMALL)
    kinds = [type(e) for e in log.events]
    assert kinds[0] is ev.Started and kinds[-1] is ev.Finished
    batches = log.of(ev.BatchDone)
    assert [b.iteration for b in batches] == list(range(1, 61))
    assert all(np.isfinite(b.loss) and b.lr == 0.1 and b.samples_per_s > 0 for b in batches)
    # 400 samples / 20 per batch = 20 iterations an epoch; epoch 0 is the score before training.
    epochs = log.of(ev.EpochDone)
    assert [(e.epoch, e.iteration) for e in epochs] == [(0, 0), (1, 20), (2, 40), (3, 60)]
    assert batches[19].epoch == pytest.approx(1.0) and batches[9].epoch == pytest.approx(0.5)
    assert log.of(ev.Finished)[0].iteration == 60


def test_learns_the_toy_problem(toy):
    log = run_to_end(toy, SMALL.with_changes(iters=300, weight_init="he", lr=0.3))
    epochs = log.of(ev.EpochDone)
    assert epochs[0].test_acc < 0.3
    assert epochs[-1].train_acc > 0.9 and epochs[-1].test_acc > 0.9
    losses = [b.loss for b in log.of(ev.BatchDone)]
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


def test_same_seed_same_losses_other_seed_differs(toy):
    first = [b.loss for b in run_to_end(toy, SMALL).of(ev.BatchDone)]
    again = [b.loss for b in run_to_end(toy, SMALL).of(ev.BatchDone)]
    other = [b.loss for b in run_to_end(toy, SMALL.with_changes(seed=1)).of(ev.BatchDone)]
    assert first == again
    assert first != other


def test_epochs_mode_stops_after_n_passes(toy):
    log = run_to_end(toy, SMALL.with_changes(epochs=2))
    assert [e.epoch for e in log.of(ev.EpochDone)] == [0, 1, 2]
    assert log.of(ev.Finished)[0].iteration == 40


def test_start_paused_then_step_advances_exactly_one(toy, log):
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=True)
    log.wait_kind(ev.Paused)
    log.wait_kind(ev.Samples)
    time.sleep(0.2)
    assert trainer.iteration == 0 and not log.of(ev.BatchDone)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    time.sleep(0.2)
    assert trainer.iteration == 1 and len(log.of(ev.BatchDone)) == 1
    trainer.step()
    trainer.step()
    log.wait_kind(ev.BatchDone, 3)
    time.sleep(0.2)
    assert trainer.iteration == 3 and trainer.state == RunState.PAUSED
    assert trainer.stop(timeout=2)


def test_pause_resume_and_prompt_stop(toy, log):
    trainer = Trainer(toy, SMALL.with_changes(iters=10_000_000), log)
    trainer.start()
    log.wait_kind(ev.BatchDone, 5)
    trainer.pause()
    paused = log.wait_kind(ev.Paused)[0]
    time.sleep(0.2)
    assert trainer.state == RunState.PAUSED and trainer.iteration == paused.iteration
    assert log.of(ev.BatchDone)[-1].iteration == paused.iteration
    trainer.resume()
    resumed = log.wait_kind(ev.Resumed)[0]
    assert resumed.iteration == paused.iteration
    log.wait_for(lambda evs: trainer.iteration > paused.iteration + 5)
    assert trainer.state == RunState.RUNNING
    began = time.perf_counter()
    assert trainer.stop(timeout=2)
    assert time.perf_counter() - began < 1.0
    assert trainer.state == RunState.STOPPED and not trainer.alive


def test_step_while_running_pauses_after_one_more_batch(toy, log):
    trainer = Trainer(toy, SMALL.with_changes(iters=10_000_000), log)
    trainer.start()
    log.wait_kind(ev.BatchDone, 3)
    trainer.step()
    paused = log.wait_kind(ev.Paused)[0]
    log.wait_for(lambda evs: trainer.iteration == paused.iteration + 1)
    time.sleep(0.2)
    assert trainer.iteration == paused.iteration + 1 and trainer.state == RunState.PAUSED
    trainer.stop()


def test_stop_while_paused_and_before_start(toy, log):
    trainer = Trainer(toy, SMALL, log)
    assert trainer.stop(timeout=1) and trainer.state == RunState.STOPPED
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=True)
    log.wait_kind(ev.Paused)
    began = time.perf_counter()
    assert trainer.stop(timeout=2)
    assert time.perf_counter() - began < 0.5


def test_live_lr_change_applies_to_next_batch(toy, log):
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    trainer.set("lr", 0.025)
    trainer.step()
    log.wait_kind(ev.BatchDone, 2)
    changed = log.of(ev.ParamChanged)
    assert changed == [ev.ParamChanged("lr", 0.1, 0.025, 1)]
    batches = log.of(ev.BatchDone)
    assert [b.lr for b in batches] == [0.1, 0.025]
    assert log.events.index(changed[0]) < log.events.index(batches[1])
    assert trainer.optimizer.lr == 0.025 and trainer.config.lr == 0.025
    trainer.stop()


def test_lr_change_matches_a_run_started_with_that_lr_from_there(toy):
    """The new rate is what the update uses: compare parameters with a hand-rolled SGD step."""
    log = EventLog()
    trainer = Trainer(toy, SMALL, log)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    trainer.set("lr", 0.5)
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    trainer.stop()
    grads = trainer.network.grads
    for key, p in trainer.network.params.items():
        np.testing.assert_allclose(p, before[key] - 0.5 * grads[key], rtol=1e-5, atol=1e-7)


def test_invalid_live_values_are_refused_and_change_nothing(toy, log):
    trainer = Trainer(toy, SMALL, log)
    for name, value in [("lr", 0), ("lr", "fast"), ("batch_size", -5), ("optimizer", "rmsprop"),
                        ("gradcheck_every", -1), ("seed", 3)]:
        with pytest.raises(ValueError):
            trainer.set(name, value)
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    trainer.stop()
    assert not log.of(ev.ParamChanged)
    assert trainer.config == SMALL


def test_batch_size_and_optimizer_changes(toy, log):
    trainer = Trainer(toy, SMALL, log)
    trainer.set("batch_size", 100)
    trainer.set("optimizer", "adam")
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    trainer.stop()
    assert [(c.name, c.old, c.new) for c in log.of(ev.ParamChanged)] == [
        ("batch_size", 20, 100), ("optimizer", "sgd", "adam")]
    assert type(trainer.optimizer).__name__ == "Adam" and trainer.optimizer.lr == 0.1
    assert log.of(ev.BatchDone)[0].epoch == pytest.approx(100 / 400)


def test_gradcheck_on_request_and_every_n(toy, log):
    trainer = Trainer(toy, SMALL.with_changes(gradcheck_every=25, iters=50), log)
    trainer.start(paused=True)
    trainer.request_gradcheck()
    first = log.wait_kind(ev.GradCheckDone)[0]
    assert first.iteration == 0
    assert [r.name for r in first.rows] == ["W1", "b1", "W2", "b2"]
    assert all(r.passed and r.checked == r.count for r in first.rows)
    assert first.rows[0].shape == (16, 8)
    trainer.resume()
    assert trainer.join(timeout=30)
    assert [g.iteration for g in log.of(ev.GradCheckDone)] == [0, 25, 50]


def test_evaluation_on_request_sends_accuracy_and_samples(toy, log):
    trainer = Trainer(toy, SMALL, log)
    trainer.start(paused=True)
    log.wait_kind(ev.Samples, 1)
    trainer.request_evaluation()
    evaluated = log.wait_kind(ev.Evaluated)[0]
    samples = log.wait_kind(ev.Samples, 2)[-1]
    trainer.stop()
    assert evaluated.iteration == 0 and 0 <= evaluated.test_acc <= 1
    assert samples.images.shape == (12, 4, 4) and samples.labels.shape == (12,)
    assert samples.probabilities.shape == (12, 10)
    np.testing.assert_allclose(samples.probabilities.sum(axis=1), 1.0, rtol=1e-6)  # float32, as the network
    np.testing.assert_array_equal(samples.predictions, samples.probabilities.argmax(axis=1))
    np.testing.assert_array_equal(samples.images.reshape(12, -1), toy.x_test[:12])
    # Copies, read-only: neither side can change what the other sees.
    assert not np.shares_memory(samples.images, toy.x_test)
    with pytest.raises(ValueError):
        samples.images[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        samples.iteration = 5


def test_nan_loss_pauses_keeps_finite_params_and_can_resume(log):
    toy = make_dataset(n_train=40)
    x = toy.x_train.astype(np.float32) / 255
    x[3, 0] = np.nan  # poisons whichever batch contains sample 3
    poisoned = Dataset("nan", x, toy.t_train, toy.x_test, toy.t_test, image_shape=(4, 4))
    trainer = Trainer(poisoned, SMALL.with_changes(batch_size=40), log)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    trainer.start()
    diverged = log.wait_kind(ev.Diverged)[0]
    assert diverged.iteration == 1 and not np.isfinite(diverged.loss)
    time.sleep(0.2)
    assert trainer.state == RunState.DIVERGED and trainer.iteration == 0 and not log.of(ev.BatchDone)
    for key, p in trainer.network.params.items():
        assert np.all(np.isfinite(p))
        np.testing.assert_array_equal(p, before[key])
    trainer.resume()  # the user may carry on (here every batch is poisoned, so it diverges again)
    log.wait_kind(ev.Diverged, 2)
    trainer.stop()


def test_exception_in_worker_reports_failed(toy, log):
    trainer = Trainer(toy, SMALL, log)

    def broken(x, t):
        raise RuntimeError("boom in backprop")

    trainer.network.backprop = broken
    trainer.start()
    failed = log.wait_kind(ev.Failed)[0]
    assert "RuntimeError: boom in backprop" in failed.message
    assert trainer.join(timeout=2) and trainer.state == RunState.FAILED


def test_start_twice_is_an_error(toy):
    trainer = Trainer(toy, SMALL)
    trainer.start(paused=True)
    with pytest.raises(RuntimeError):
        trainer.start()
    trainer.stop()


def test_overflowing_update_restores_the_last_parameters_with_a_finite_loss(toy, log):
    """A huge learning rate sends the weights to inf; the parameters kept are the last finite-loss ones."""
    trainer = Trainer(toy, SMALL.with_changes(lr=100.0, weight_init="he"), log)
    trainer.network.params["W1"] *= 1e17  # finite, but the next few updates overflow float32
    trainer.start()
    diverged = log.wait_kind(ev.Diverged)[0]
    time.sleep(0.1)
    trainer.stop()
    assert trainer.iteration == diverged.iteration - 1
    for p in trainer.network.params.values():
        assert np.all(np.isfinite(p))
    n = SMALL.batch_size
    loss = trainer.network.loss(toy.x_train[:n], toy.t_train[:n])
    assert np.isfinite(loss)


# --- insight: test-set predictions, layer statistics, weight images -----------------


def test_test_predictions_come_with_every_score_and_give_its_accuracy(toy):
    log = run_to_end(toy, SMALL)
    scores = log.of((ev.EpochDone, ev.Evaluated))
    predictions = log.of(ev.TestPredictions)
    assert [p.iteration for p in predictions] == [s.iteration for s in scores] == [0, 20, 40, 60]
    for score, p in zip(scores, predictions):
        assert p.predictions.shape == (100,) and p.probabilities.shape == (100, 10)
        assert p.probabilities.dtype == np.float32
        np.testing.assert_array_equal(p.predictions, p.probabilities.argmax(axis=1))
        assert np.count_nonzero(p.predictions == toy.t_test) / 100 == score.test_acc  # exactly
    assert len({p.predictions.tobytes() for p in predictions}) > 1  # training changed them
    # The preview digits come from the same pass: slices of one array, so bit-equal is the point.
    samples = log.of(ev.Samples)[-1]
    np.testing.assert_array_equal(samples.probabilities, predictions[-1].probabilities[:12])
    np.testing.assert_array_equal(samples.predictions, predictions[-1].predictions[:12])


def test_test_predictions_match_the_network_that_made_them(toy, log):
    trainer = Trainer(toy, SMALL, log)
    trainer.start()
    assert trainer.join(timeout=30)
    last = log.of(ev.TestPredictions)[-1]
    # A second forward pass, on another thread: equal to float32 precision (BLAS may split the work
    # differently); a stale network's would differ by far more.
    np.testing.assert_allclose(last.probabilities, trainer.network.probabilities(toy.x_test), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        last.predictions[0] = 3
    with pytest.raises(ValueError):
        last.probabilities[0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        last.iteration = 1


def test_layer_stats_every_insight_every_iterations_and_at_each_score(toy):
    log = run_to_end(toy, SMALL.with_changes(insight_every=15))
    # every 15 iterations, and at the epoch ends (20, 40, 60); none at 0, before any batch; 60 only once
    assert [s.iteration for s in log.of(ev.LayerStats)] == [15, 20, 30, 40, 45, 60]
    assert [w.iteration for w in log.of(ev.WeightImages)] == [15, 20, 30, 40, 45, 60]
    for stats in log.of(ev.LayerStats):
        assert [r.name for r in stats.layers] == ["Affine1", "Affine2"]
        assert sum(stats.layers[0].weight_counts) == sum(stats.layers[0].grad_counts) == 16 * 8
        assert sum(stats.layers[1].weight_counts) == sum(stats.layers[1].grad_counts) == 8 * 10
        assert stats.layers[0].weight_grad_norm > 0 and 0 <= stats.layers[0].dead_share <= 1
        assert stats.layers[1].dead_share is None
    norms = [s.layers[1].weight_grad_norm for s in log.of(ev.LayerStats)]
    assert len(set(norms)) == len(norms)  # each from its own batch
    images = log.of(ev.WeightImages)[-1].images
    assert images.shape == (8, 4, 4) and images.dtype == np.float32


def test_insight_every_zero_sends_none(toy):
    log = run_to_end(toy, SMALL.with_changes(insight_every=0))
    assert not log.of(ev.LayerStats) and not log.of(ev.WeightImages)
    assert len(log.of(ev.TestPredictions)) == 4  # test-set predictions come with every score regardless


def test_layer_stats_describe_the_last_batch_and_are_resent_unchanged(toy, log):
    from engine.insight import layer_stats

    trainer = Trainer(toy, SMALL.with_changes(insight_every=1), log)
    trainer.start(paused=True)
    trainer.step()
    stats = log.wait_kind(ev.LayerStats)[0]
    images = log.wait_kind(ev.WeightImages)[0]
    time.sleep(0.1)  # the worker is idle, paused
    assert stats.iteration == 1
    # What the network holds after batch 1 and its update: those gradients, those masks, these weights.
    assert stats.layers == layer_stats(trainer.network)
    np.testing.assert_array_equal(images.images, trainer.network.params["W1"].T.reshape(8, 4, 4))
    assert not np.shares_memory(images.images, trainer.network.params["W1"])
    with pytest.raises(ValueError):
        images.images[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.layers = ()
    trainer.request_evaluation()  # a score at the same iteration: the stats sent with it are batch 1's
    log.wait_kind(ev.Samples, 2)
    trainer.stop()
    assert log.of(ev.LayerStats) == [stats, stats]
    kinds = [type(e) for e in log.events if not isinstance(e, (ev.Paused, ev.BatchDone))]
    # The stats go out when the score is asked for (in iteration order); the score when it is ready.
    assert kinds[-5:] == [ev.LayerStats, ev.WeightImages, ev.Evaluated, ev.TestPredictions, ev.Samples]


def test_stats_with_a_score_are_the_last_batch_s_and_scoring_leaves_the_network_s_layers_alone(toy, log):
    from engine.insight import layer_stats

    trainer = Trainer(toy, SMALL.with_changes(insight_every=1000), log)
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone)
    time.sleep(0.1)
    expected = layer_stats(trainer.network)  # read while the worker idles: batch 1's state
    trainer.network.params["b1"][:] -= 1e3  # a forward pass with these would kill every unit
    trainer.request_evaluation()
    sent = log.wait_kind(ev.LayerStats)[0]
    log.wait_kind(ev.Evaluated)
    trainer.stop()
    assert sent.iteration == 1 and sent.layers == expected and expected[0].dead_share < 1.0
    assert layer_stats(trainer.network) == expected  # scoring ran on a copy: batch 1's masks are still there


def test_insight_every_changes_live(toy, log):
    trainer = Trainer(toy, SMALL.with_changes(insight_every=0), log)
    trainer.start(paused=True)
    trainer.step()
    log.wait_kind(ev.BatchDone, 1)
    trainer.set("insight_every", 1)
    trainer.step()
    log.wait_kind(ev.LayerStats)
    trainer.stop()
    assert log.of(ev.ParamChanged) == [ev.ParamChanged("insight_every", 0, 1, 1)]
    assert [s.iteration for s in log.of(ev.LayerStats)] == [2]
    with pytest.raises(ValueError, match="insight every"):
        trainer.set("insight_every", -1)
