"""MonitorState: the monitor's model, fed engine events directly (no terminal)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import tui.state as state_module
from engine import events as ev
from engine.config import TrainConfig
from engine.history import EMA_WEIGHT
from tests.fakes import TOY, gradcheck_rows, points, scripted_samples
from tui.messages import DatasetReady, DatasetUnavailable, DatasetWarning
from tui.state import Marker, MonitorState, envelope

CONFIG = TrainConfig(hidden_sizes=(50,), iters=1000, batch_size=100, lr=0.1)


def started(config: TrainConfig = CONFIG, train_size: int = 200) -> ev.Started:
    return ev.Started(config, "784-50-10", "toy", train_size, 50, 0)


def batch(i: int, loss: float = 1.0, lr: float = 0.1, rate: float = 1000.0) -> ev.BatchDone:
    return ev.BatchDone(i, i * 0.5, loss, lr, rate)


@pytest.fixture
def clock(monkeypatch):
    """A controllable time.monotonic() as seen by tui.state."""
    now = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(state_module, "time", SimpleNamespace(monotonic=lambda: now.t))
    return now


# ---- EMA ---------------------------------------------------------------------------------------

def test_ema_is_bias_corrected_so_a_constant_loss_stays_constant():
    s = MonitorState(CONFIG)
    for i in range(1, 21):
        s.apply(batch(i, loss=2.0))
    # Without the correction the first values would be 0.04, 0.079, ... (pulled toward 0).
    assert points(s.smoothed)[1] == pytest.approx([2.0] * 20)


def test_ema_matches_the_bias_corrected_formula():
    losses = [3.0, 1.0, 2.0, 0.5, 4.0]
    s = MonitorState(CONFIG)
    for i, loss in enumerate(losses, start=1):
        s.apply(batch(i, loss=loss))
    raw, expected = 0.0, []
    for n, loss in enumerate(losses, start=1):
        raw = (1 - EMA_WEIGHT) * raw + EMA_WEIGHT * loss
        expected.append(raw / (1 - (1 - EMA_WEIGHT) ** n))
    assert points(s.smoothed)[1] == pytest.approx(expected)
    assert points(s.smoothed)[1][0] == pytest.approx(3.0)  # the first point is the first loss itself
    assert points(s.losses) == ([1, 2, 3, 4, 5], losses)


def test_ema_leaves_out_nan_and_inf_batches_which_would_stay_in_it_for_good():
    s = MonitorState(CONFIG)
    for i, loss in enumerate([float("nan"), 2.0, float("inf"), 2.0, float("nan")], start=1):
        s.apply(batch(i, loss=loss))
    smoothed = points(s.smoothed)[1]
    assert math.isnan(smoothed[0])  # nothing to average yet: drawn where the plot puts a nan
    assert smoothed[1:] == pytest.approx([2.0] * 4)


def test_batch_done_updates_progress_fields():
    s = MonitorState(CONFIG)
    dirty = s.apply(ev.BatchDone(7, 3.5, 0.9, 0.05, 4321.0))
    assert dirty == {"status", "loss"}
    assert (s.iteration, s.epoch, s.lr, s.samples_per_s) == (7, 3.5, 0.05, 4321.0)


# ---- envelope (the loss plot's downsampling) ------------------------------------------------

def test_envelope_keeps_few_points_as_they_are():
    x, y = envelope([1, 2, 3], [0.5, 0.4, 0.3], columns=10)
    assert x.tolist() == [1, 2, 3] and y.tolist() == [0.5, 0.4, 0.3]


def test_envelope_mean_gives_one_bucket_mean_per_column():
    n, columns = 1000, 10
    x = list(range(1, n + 1))
    y = [float(i % 7) for i in range(n)]
    xs, ys = envelope(x, y, columns, mean=True)
    assert len(xs) == len(ys) == columns
    buckets_x = np.array_split(np.array(x, dtype=float), columns)
    buckets_y = np.array_split(np.array(y), columns)
    assert xs == pytest.approx([b.mean() for b in buckets_x])
    assert ys == pytest.approx([b.mean() for b in buckets_y])


def test_envelope_min_max_gives_two_points_per_column_with_the_noise_band():
    n, columns = 100, 5
    x = list(range(n))
    y = [float(i) + (10.0 if i % 20 == 3 else 0.0) for i in range(n)]
    xs, ys = envelope(x, y, columns)
    assert len(xs) == len(ys) == 2 * columns
    for k, (bx, by) in enumerate(zip(np.array_split(np.array(x, float), columns), np.array_split(np.array(y), columns))):
        assert xs[2 * k] == xs[2 * k + 1] == pytest.approx(bx.mean())
        assert (ys[2 * k], ys[2 * k + 1]) == (by.min(), by.max())
    # The spikes survive (an average would hide them).
    assert max(ys) == max(y)


# ---- markers -----------------------------------------------------------------------------------

def test_param_changes_become_markers_and_update_the_config():
    s = MonitorState(CONFIG)
    s.apply(started())
    s.apply(batch(1))
    dirty = s.apply(ev.ParamChanged("lr", 0.1, 0.05, 1))
    assert dirty >= {"loss", "status"}
    s.apply(ev.ParamChanged("batch_size", 100, 50, 4))
    s.apply(ev.ParamChanged("optimizer", "sgd", "adam", 9))
    s.apply(ev.ParamChanged("gradcheck_every", 0, 10, 9))  # not a change of the curve: no marker
    assert s.markers == [Marker(1, "lr=0.05"), Marker(4, "batch=50"), Marker(9, "opt=adam")]
    assert s.lr == 0.05
    s.apply(ev.ParamChanged("lr", 0.05, 0.1, 9))  # a second change at the same batch shares its marker
    assert s.markers[-1] == Marker(9, "opt=adam lr=0.1") and s.lr == 0.1
    assert (s.config.lr, s.config.batch_size, s.config.optimizer, s.config.gradcheck_every) == (0.1, 50, "adam", 10)


# ---- ETA -----------------------------------------------------------------------------------------

def test_eta_by_iterations():
    s = MonitorState(CONFIG)
    assert s.eta() is None  # not running
    s.apply(started())
    assert s.eta() is None  # no speed yet
    s.apply(batch(200, rate=1000.0))
    # (1000 - 200) batches of 100 samples at 1000 samples/s
    assert s.eta() == pytest.approx(80.0)


def test_eta_by_epochs():
    config = TrainConfig(hidden_sizes=(50,), epochs=4, batch_size=100)
    s = MonitorState(config)
    s.apply(started(config, train_size=2000))
    s.apply(ev.BatchDone(10, 1.5, 1.0, 0.1, 500.0))
    # 2.5 epochs of 2000 samples at 500 samples/s
    assert s.eta() == pytest.approx(10.0)


def test_eta_is_unknown_unless_running():
    s = MonitorState(CONFIG)
    s.apply(started())
    s.apply(batch(10, rate=1000.0))
    assert s.eta() is not None
    s.apply(ev.Paused(10))
    assert s.eta() is None
    s.apply(ev.Resumed(10))
    assert s.eta() is not None
    s.apply(ev.Finished(10, 1.0))
    assert s.eta() is None


# ---- accuracy ----------------------------------------------------------------------------------

def test_accuracy_list_collects_epochs_and_evaluations():
    s = MonitorState(CONFIG)
    assert s.latest_accuracy is None
    assert s.apply(ev.EpochDone(0, 0, 0.11, 0.10)) == {"accuracy", "status"}
    s.apply(ev.Evaluated(37, 0.71, 0.69))
    s.apply(ev.EpochDone(1, 50, 0.83, 0.80))
    assert s.accuracy == [(0, 0.11, 0.10), (37, 0.71, 0.69), (50, 0.83, 0.80)]
    assert s.latest_accuracy == (0.83, 0.80)


# ---- elapsed time ------------------------------------------------------------------------------

def test_elapsed_excludes_pauses(clock):
    s = MonitorState(CONFIG)
    assert s.elapsed() == 0.0
    s.apply(started())  # running from t = 1000
    clock.t += 5
    assert s.elapsed() == pytest.approx(5)
    s.apply(ev.Paused(3))
    clock.t += 100  # paused: does not count
    assert s.elapsed() == pytest.approx(5)
    s.apply(ev.Resumed(3))
    clock.t += 2
    assert s.elapsed() == pytest.approx(7)
    s.apply(ev.Diverged(9, float("nan")))
    clock.t += 50
    assert s.elapsed() == pytest.approx(7)
    s.apply(ev.Resumed(9))
    clock.t += 1
    s.apply(ev.Finished(12, 8.0))
    clock.t += 1000
    assert s.elapsed() == pytest.approx(8)
    assert s.elapsed(now=clock.t + 1e6) == pytest.approx(8)


def test_started_paused_counts_no_time(clock):
    s = MonitorState(CONFIG)
    s.apply(started())
    s.apply(ev.Paused(0))  # start(paused=True) sends both at once
    clock.t += 60
    assert s.elapsed() == 0.0
    assert s.state == "paused"


# ---- states and messages -------------------------------------------------------------------

def test_lifecycle_states_and_messages():
    s = MonitorState(CONFIG)
    assert s.state == "loading"
    s.apply(ev.DownloadProgress("train-images-idx3-ubyte.gz", 10, 100))
    assert s.download is not None
    s.apply(DatasetReady(TOY))
    assert (s.state, s.dataset, s.train_size, s.download) == ("idle", "toy", len(TOY.x_train), None)
    assert s.architecture == "784-50-10"  # known before training starts
    s.apply(started())
    assert s.state == "running"
    s.apply(ev.Diverged(5, float("inf")))
    assert s.state == "diverged" and "diverged at iteration 5" in s.message
    s.apply(ev.Paused(5))  # a pause does not hide the divergence
    assert s.state == "diverged"
    s.apply(ev.Resumed(5))
    assert s.state == "running" and s.message == ""
    s.apply(ev.Failed("ValueError: boom"))
    assert s.state == "failed" and s.message == "ValueError: boom"


def test_dataset_unavailable_and_warning():
    s = MonitorState(CONFIG)
    s.apply(DatasetUnavailable("mnist: no network"))
    assert s.state == "unavailable" and s.message == "mnist: no network"
    s = MonitorState(CONFIG)
    s.apply(DatasetWarning("train-images: unverified"))
    s.apply(DatasetReady(TOY))
    assert s.warnings == ["train-images: unverified"] and s.message == ""  # a notification, not the bar


def test_gradcheck_and_samples_are_kept():
    s = MonitorState(CONFIG)
    rows = gradcheck_rows([784, 50, 10])
    assert s.apply(ev.GradCheckDone(rows, 12, 0.25)) == {"gradcheck"}
    assert (s.gradcheck, s.gradcheck_iteration, s.gradcheck_seconds) == (rows, 12, 0.25)
    samples = scripted_samples(12)
    assert s.apply(samples) == {"samples"}
    assert s.samples is samples


def test_unknown_events_change_nothing():
    s = MonitorState(CONFIG)
    assert s.apply(object()) == set()
    assert s.state == "loading"
