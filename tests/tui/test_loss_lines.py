"""The loss plot's data step, terminal-free: drawn from the state's loss summaries, gathered into the x axis's
fixed columns (exactly, for a short run), O(columns) points for a long one, and everything the monitor
keeps bounded."""
from __future__ import annotations

import math

import numpy as np
import plotext
import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.history import RATIO
from tests.fakes import points, scripted_layer_stats
from tui.state import KEPT, MonitorState
from tui.widgets.loss_plot import loss_lines
from tui.widgets.plot_axes import x_span
from tui.widgets.plot_values import YAxis

CONFIG = TrainConfig(hidden_sizes=(50,))


def fed(losses, block: int = 0, iters: int = CONFIG.iters) -> MonitorState:
    """A monitor's state after batches 1, 2, ... with `losses`: one event each, or Batches of `block` (a log's),
    of a run of `iters` iterations (the x axis's span)."""
    state = MonitorState(TrainConfig(hidden_sizes=(50,), iters=iters))
    losses = np.asarray(losses, dtype=np.float64)
    if not block:
        for i, loss in enumerate(losses.tolist(), start=1):
            state.apply(ev.BatchDone(i, i / 100, loss, 0.1, 1000.0))
    for start in range(0, len(losses) if block else 0, block or 1):
        chunk = losses[start:start + block]
        state.apply(ev.Batches(start + 1, chunk, 0.1, (start + 1) / 100, 0.01, 1000.0))
    return state


def by_column(iterations, values, span: int, columns: int, mean: bool = False) -> tuple[list, list]:
    """From every value: each of `columns` equal columns of 0..`span` that has any, at its middle, with its
    min then max (one value: once), or its mean. (nan ranks above everything; a column's min is nan only
    when all its values are.)"""
    width, x, y = span / columns, [], []
    column = np.minimum((np.asarray(iterations) // width).astype(int), columns - 1)
    values = np.asarray(values, dtype=np.float64)
    for c in np.unique(column):
        held = values[column == c]
        middle = (c + 0.5) * width
        if mean:
            x.append(middle), y.append(held.mean())
            continue
        low, high = np.fmin.reduce(held), np.max(held)
        x += [middle] if len(held) == 1 else [middle, middle]
        y += [low] if len(held) == 1 else [low, high]
    return x, y


def before(state: MonitorState, columns: int, log: bool) -> tuple:
    """What the plot should draw, from every loss and EMA value, kept in lists."""
    iterations, losses = points(state.losses)
    smoothed = points(state.smoothed)[1]
    span = x_span(iterations[-1], state.planned_iterations())
    x, y = by_column(iterations, losses, span, columns)
    sx, sy = by_column(iterations, smoothed, span, columns, mean=True)
    axis = YAxis.fit([np.asarray(losses), smoothed], log=log)  # (from every value: the EMA's extremes too)
    return axis, x, axis.place(y), sx, axis.place(sy)


def noisy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2.3 * np.exp(-np.arange(n) / (n / 5)) + 0.05) * rng.uniform(0.6, 1.4, n)


@pytest.mark.parametrize("n", [1, 7, 100, 1000, 4000])
@pytest.mark.parametrize("columns", [10, 48, 110])
@pytest.mark.parametrize("log", [True, False])
def test_a_short_run_is_drawn_exactly_in_the_axis_columns(n, columns, log):
    state = fed(noisy(n))
    lines = loss_lines(state, columns, log, smoothing=True)
    axis, x, y, sx, sy = before(state, columns, log)
    assert lines.last_iteration == n
    if n > RATIO * columns:  # blocks of 2+ points, each in the column of its middle: the same columns
        assert set(np.round(lines.ema_x, 6)) <= set(np.round(sx, 6)) and len(lines.x) <= 2 * columns
        return
    assert lines.axis == axis
    for got, expected in ((lines.x, x), (lines.y, y), (lines.ema_x, sx), (lines.ema_y, sy)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("log", [True, False])
def test_a_short_run_with_zero_nan_and_inf_is_drawn_and_marked(log):
    state = fed([2.3, 0.0, 0.5, math.nan, 0.4, math.inf, 0.3, -1e-7], iters=8)  # a column each
    lines = loss_lines(state, 48, log, smoothing=False)
    axis, x, y, *_ = before(state, 48, log)
    assert lines.axis == axis and lines.ema_y is None
    np.testing.assert_array_equal(lines.y, y)
    expected = [(which.tolist(), at, label) for which, at, label in axis.moved(points(state.losses)[1])]
    assert [(which.tolist(), at, label) for which, at, label in axis.moved(lines.moved)] == expected


def test_a_long_run_with_losses_of_zero_takes_two_points_a_column_and_plotext_draws_it_on_a_log_axis():
    losses = noisy(300_000)
    losses[::1000] = 0.0  # float32 rounds a sure batch's loss to 0
    state = fed(losses, block=10_000)
    lines = loss_lines(state, 100, log=True, smoothing=True)
    assert len(lines.x) == len(lines.y) <= 200 and len(lines.ema_y) <= 100 and lines.last_iteration == 300_000
    assert (lines.y > 0).all() and np.isfinite(lines.y).all() and lines.y.min() == lines.axis.floor
    assert lines.y.max() == losses.max() and lines.x[0] < 2000 and lines.x[-1] > 298_000
    (which, at, label), = lines.axis.moved(lines.moved)
    assert at == lines.axis.floor and label.startswith("<=0 drawn at") and which.sum() >= 50
    plotext.clear_figure()
    plotext.plotsize(110, 30)
    plotext.plot(lines.x, lines.y)
    plotext.plot(lines.ema_x, lines.ema_y)
    plotext.yscale("log")
    assert "─" in plotext.build()  # log10 of 0 would have raised


def test_batches_from_a_log_make_the_same_state_as_one_event_each():
    losses = noisy(4000).astype(np.float32).astype(np.float64)
    one, blocks = fed(losses), fed(losses, block=777)
    assert points(one.losses) == points(blocks.losses) and points(one.smoothed) == points(blocks.smoothed)
    assert (one.iteration, one.lr) == (blocks.iteration, blocks.lr) and one.epoch == pytest.approx(blocks.epoch)


def test_accuracy_points_gradient_norms_and_markers_stay_bounded():
    state, layers = MonitorState(CONFIG), scripted_layer_stats([784, 50, 10], 0).layers
    for i in range(1, 5 * KEPT):
        state.apply(ev.Evaluated(i, 0.5, i / (5 * KEPT)))
        state.apply(ev.LayerStats(i, layers))
        state.apply(ev.ParamChanged("lr", 0.1, 0.5 / i, i))
    for kept in (state.accuracy, state.grad_norms, state.markers):
        assert KEPT // 2 <= len(kept) <= KEPT
    assert state.accuracy[0][0] == state.grad_norms[0][0] == state.markers[0].iteration == 1  # the first ...
    assert state.latest_accuracy == (0.5, (5 * KEPT - 1) / (5 * KEPT))  # ... and the newest stay
    assert state.markers[-1].label == f"lr={0.5 / (5 * KEPT - 1):g}" and state.grad_norms[-1][0] == 5 * KEPT - 1
