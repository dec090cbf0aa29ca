"""tui/scalars.py: the TensorBoard viewer's series, by tag and run, bounded."""
from __future__ import annotations

import math

import pytest

from engine.history import Ema
from engine.tensorboard_log import Point
from tui.scalars import MAX_SERIES, ScalarsState


def test_points_fold_into_series_by_tag_and_run_with_the_monitor_ema():
    state = ScalarsState()
    values = [2.0, 1.0, math.nan, 0.5, 0.25]
    changed = state.apply([Point("b", "loss", i, v) for i, v in enumerate(values)] + [Point("a", "loss", 0, 3.0),
                                                                                     Point("a", "acc", 0, 0.5)])
    assert changed == {"loss", "acc"}
    assert state.tags() == ["acc", "loss"] and state.runs() == ["a", "b"]
    assert [run for run, _ in state.of("loss")] == ["a", "b"]
    series = dict(state.of("loss"))["b"]
    assert series.points == 5 and series.last_step == 4 and series.last_value == 0.25
    ema = Ema()
    expected = [ema(v) for v in values]
    smoothed = series.smoothed.query(0, 4, 10)
    assert smoothed.mean.tolist() == pytest.approx(expected, nan_ok=True)


def test_series_past_the_bound_are_counted_not_kept():
    state = ScalarsState()
    state.apply([Point("run", f"tag{n}", 0, 1.0) for n in range(MAX_SERIES + 5)])
    state.apply([Point("run", "tag0", 1, 2.0), Point("run", f"tag{MAX_SERIES + 1}", 1, 2.0)])
    assert len(state.series) == MAX_SERIES and state.dropped == 6
    assert dict(state.of("tag0"))["run"].points == 2


def feed(state, run, steps, value):
    state.apply([Point(run, "lr", step, value) for step in steps])


def test_a_job_restarted_into_its_folder_replaces_the_steps_it_logs_again():
    """Steps going back: the points from there on are dropped (as TensorBoard does), the new ones kept."""
    state = ScalarsState()
    feed(state, "job", range(1300), 0.1)
    feed(state, "job", range(300), 0.5)
    series = dict(state.of("lr"))["job"]
    assert series.points == 300 and series.last_step == 299
    whole = series.values.query(series.values.first_iteration, series.values.last_iteration, 1)
    assert whole.low.min() == whole.high.max() == 0.5


def test_a_job_resumed_from_a_checkpoint_keeps_the_steps_before_it():
    state = ScalarsState()
    feed(state, "job", range(1300), 0.1)
    feed(state, "job", range(500, 800), 0.5)
    series = dict(state.of("lr"))["job"]
    assert series.points == 800 and series.last_step == 799
    before, after = series.values.query(0, 499, 50), series.values.query(500, 799, 50)
    assert before.high.max() == 0.1 and after.low.min() == 0.5 and after.iteration.max() <= 799
    assert series.smoothed.query(0, 499, 50).mean.max() == pytest.approx(0.1)


def test_the_viewer_x_axis_grows_in_round_steps_leaving_at_most_a_third_empty():
    from tui.widgets.plot_axes import round_span

    spans = [round_span(last) for last in range(0, 100_000, 7)]
    assert set(spans) <= {round(m * 10 ** k) for k in range(1, 6) for m in (1, 1.5, 2, 3, 4, 5, 7.5)}
    assert all(span >= last and (last < 10 or last / span > 2 / 3 - 1e-9)
               for last, span in zip(range(0, 100_000, 7), spans))


def test_a_flat_series_sits_in_the_middle_of_a_round_axis():
    from tui.widgets.plot_axes import linear_limits

    assert linear_limits(5.0, 5.0) == pytest.approx((4.8, 5.2))
    assert linear_limits(0.0, 0.0) == (-1.0, 1.0)
    low, high = linear_limits(0.001, 0.001 * (1 + 1e-12))  # an EMA of a constant, rounded
    assert low == pytest.approx(0.0008) and high == pytest.approx(0.0012)
    assert linear_limits(0.13, 2.31) == (0.0, 2.5)
