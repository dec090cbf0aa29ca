"""Values no axis can take (a loss of exactly 0.0 on a log axis, nan, inf) are drawn, marked, never fatal.

A float32 loss does round to 0.0 once the network is sure of a batch; plotext took log10(0) and the
app exited. Every plot puts its values through tui.widgets.plot_values.YAxis; these tests feed it
such values directly, through the app (scripted and real trainer), a replayed log and the run browser.
"""
from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import plotext
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import events as ev
from engine.config import TrainConfig
from engine.trainer import Trainer
from tests.conftest import make_dataset
from tests.fakes import FAKE_CONFIG, TOY, points, scripted_layer_stats, toy_loader, write_run
from tests.tui.harness import fake_app, press, run_async, running, screen_text, wait_until
from tui.app import BackpropApp
from tui.session import AttachedSession, LocalSession
from tui.widgets.plot_axes import decade_ticks
from tui.widgets.plot_values import YAxis

NAN, INF = float("nan"), float("inf")
FLOOR = re.compile(r"<=0 drawn at 1e-\d\d")

# ---- the rule ------------------------------------------------------------------------------------


def test_a_log_axis_draws_zero_and_below_at_a_round_decade_under_the_smallest_positive_value():
    axis = YAxis.fit([[0.5, 0.0, 0.0023], [-1.0, 3.0, NAN]], log=True)
    assert (axis.floor, axis.top) == (1e-4, 3.0)
    placed = axis.place([0.0, -1.0, 0.0023, NAN, INF, -INF, 3.0])
    assert placed.tolist() == [1e-4, 1e-4, 0.0023, 3.0, 3.0, 1e-4, 3.0]
    assert [label for _, _, label in axis.moved([0.0, NAN])] == ["<=0 drawn at 1e-04", "nan/inf drawn at top"]
    assert axis.moved([0.0023, 3.0]) == []


def test_a_linear_axis_keeps_zero_and_negatives_and_moves_only_what_is_not_finite():
    axis = YAxis.fit([[-2.0, 0.0, 5.0, NAN, INF, -INF]], log=False)
    assert (axis.floor, axis.top) == (-2.0, 5.0)
    assert axis.place([-2.0, 0.0, 5.0, NAN, INF, -INF]).tolist() == [-2.0, 0.0, 5.0, 5.0, 5.0, -2.0]
    assert [label for _, _, label in axis.moved([0.0, -INF])] == ["-inf drawn at bottom"]


def test_with_nothing_to_measure_the_axis_still_has_a_place_for_everything():
    assert YAxis.fit([[0.0, NAN]], log=True).place([0.0, NAN]).tolist() == [0.1, 1.0]
    assert YAxis.fit([[INF]], log=False).place([INF, -INF]).tolist() == [1.0, 0.0]
    assert YAxis.fit([[5e-324]], log=True).floor > 0  # a decade below a subnormal rounds to 0


class Recorder:
    """Stands for plotext: keeps what was scattered and the y ticks asked for."""

    def __init__(self):
        self.points, self.ticks = [], None

    def scatter(self, x, y, marker, color, label):
        self.points.append((list(x), list(y), label))

    def yticks(self, ticks, labels):
        self.ticks = labels


def test_marks_are_thinned_to_a_column_each_and_name_where_they_are():
    values = np.full(1000, 0.5)
    values[100:900] = 0.0
    values[950] = NAN
    axis = YAxis.fit([values], log=True)
    plt = Recorder()
    axis.mark(plt, np.arange(1, 1001), values, columns=50)
    (zx, zy, zero), (nx, ny, bad) = plt.points
    assert len(zx) == 50 and zx[0] == 101 and zx[-1] == 900 and set(zy) == {0.01}
    assert zero == "<=0 drawn at 1e-02"
    assert (nx, ny, bad) == ([951], [0.5], "nan/inf drawn at top")


def test_a_log_axis_over_many_decades_is_labelled_at_powers_of_ten_the_floor_first():
    plt = Recorder()
    decade_ticks(plt, 1e-10, 2.3, height=40)  # plotext would write 1e-10 as 0.000000000
    assert plt.ticks == ["1e-10", "1e-08", "1e-06", "0.0001", "0.01", "1"]
    decade_ticks(plt, 1e-10, 2.3, height=80)
    assert len(plt.ticks) == 11
    plt = Recorder()
    decade_ticks(plt, 0.01, 2.4, height=40)  # a narrow range keeps plotext's finer ticks
    assert plt.ticks is None


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(width=32), min_size=1, max_size=40), log=st.booleans())
def test_plotext_draws_whatever_the_values_once_placed(values, log):
    axis = YAxis.fit([values], log=log)
    placed = axis.place(values)
    assert np.isfinite(placed).all() and (not log or (placed > 0).all())
    kept = np.isfinite(values) & ((np.array(values) > 0) if log else True)
    assert placed[kept].tolist() == np.array(values)[kept].tolist()
    plotext.clear_figure()
    plotext.plotsize(60, 15)
    x = list(range(len(values)))
    plotext.plot(x, placed)
    axis.mark(plotext, x, values, 20)
    plotext.yscale("log" if log else "linear")
    if log:
        decade_ticks(plotext, placed.min(), placed.max(), 15)
    assert plotext.build()


def test_layer_sparklines_draw_a_zero_norm_as_the_lowest_bar_and_say_so():
    from tui.state import MonitorState
    from tui.widgets.layer_stats import BARS, render_layers

    state = MonitorState(FAKE_CONFIG)
    norms = [1e-3, 2e-3, 0.0, 4e-3, NAN]  # a layer of dead units passes back no gradient at all
    for iteration, norm in enumerate(norms):
        stats = scripted_layer_stats([784, 50, 10], iteration)
        state.apply(ev.LayerStats(iteration, (dataclasses.replace(stats.layers[0], weight_grad_norm=norm),
                                              stats.layers[1])))
    lines = render_layers(state, 60).plain.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("|dW| over iterations 0-4"))
    assert lines[heading].endswith("(log scale); <=0 drawn at 1e-04; nan/inf drawn at top")
    bars = lines[heading + 1].split()[1]  # Affine1's norms
    assert bars[2] == BARS[1] and bars[4] == BARS[-1] and bars[0] <= bars[1] <= bars[3]


# ---- the app -------------------------------------------------------------------------------------


def loss_plot_text(app) -> str:
    return screen_text(app).split("gradient check")[0]


async def plot_shows(pilot, *parts: str) -> None:
    """Wait until the monitor's plots, redrawn, show every one of `parts`."""
    await wait_until(pilot, lambda: all(part in loss_plot_text(pilot.app) for part in parts), what=f"{parts}")


@pytest.mark.parametrize("bad, log_legend, linear_legend", [
    (0.0, "<=0 drawn at 1e-02", None),
    (-1e-7, "<=0 drawn at 1e-02", None),
    (NAN, "nan/inf drawn at top", "nan/inf drawn at top"),
    (INF, "nan/inf drawn at top", "nan/inf drawn at top"),
])
@run_async
async def test_a_loss_the_axis_cannot_take_is_drawn_marked_and_training_goes_on(bad, log_legend, linear_legend):
    app = fake_app(dataclasses.replace(FAKE_CONFIG, iters=10))  # a column of the x axis for each batch
    async with running(app) as pilot:
        app.trainer.next_losses.extend([bad, 0.5, bad])
        await press(pilot, "s", "s", "s", "s")  # paused: the plot is redrawn at each batch
        assert points(app.monitor.losses)[1][:3] == pytest.approx([bad, 0.5, bad], nan_ok=True)
        text = loss_plot_text(app)
        assert "loss per batch (log scale)" in text and log_legend in text and "EMA" in text
        assert math.isfinite(points(app.monitor.smoothed)[1][-1])  # the EMA goes on past a nan or inf
        await press(pilot, "l")  # linear: 0 and below have their place, nan and inf still do not
        text = loss_plot_text(app)
        assert "(log scale)" not in text and "batch (min-max)" in text
        assert (linear_legend in text) if linear_legend else "drawn at" not in text
        await press(pilot, "t", "l")  # without the EMA line, log again
        text = loss_plot_text(app)
        assert "loss per batch (log scale)" in text and log_legend in text and "EMA" not in text
        await press(pilot, "space")
        app.trainer.advance(3)
        await press(pilot, "space")
        assert app.monitor.iteration == 7 and app.monitor.state == "paused"
        assert log_legend in loss_plot_text(app)


@run_async
async def test_the_layers_tab_survives_a_zero_and_a_nan_gradient_norm():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        for iteration, norm in ((2, 0.0), (3, NAN)):
            stats = scripted_layer_stats([784, 50, 10], iteration)
            app.trainer._emit(ev.LayerStats(iteration, (dataclasses.replace(stats.layers[0], weight_grad_norm=norm),
                                                        stats.layers[1])))
        await press(pilot, "5")
        assert "|dW| over iterations 0-3 (log scale); <=0 drawn at 1e-02; nan/inf drawn at top" in screen_text(app)


# ---- replayed and browsed runs -------------------------------------------------------------------

BAD_LOSSES = [2.3, 0.0, 0.5, NAN, 0.4, INF, 0.3]


def test_a_logged_zero_nan_and_inf_loss_come_back_for_a_resume(tmp_path):
    from engine.runs import history

    run = write_run(tmp_path, 0.1, BAD_LOSSES, [0.5], finished=False)  # nan and inf are written as text
    assert [e.loss for e in history(run) if isinstance(e, ev.BatchDone)] == pytest.approx(BAD_LOSSES, nan_ok=True)


@run_async
async def test_resuming_a_run_that_logged_zero_nan_and_inf_replays_it_on_the_first_frame(tmp_path):
    from engine.runs import RunLog

    run = write_run(tmp_path, 0.1, BAD_LOSSES, [0.5], finished=False)
    log = RunLog(run)  # a checkpoint where the log ends (its weights do not matter to the replay)
    log.save_now(dataclasses.replace(Trainer(TOY, FAKE_CONFIG).checkpoint(), iteration=len(BAD_LOSSES)))
    log.close()
    app = BackpropApp(LocalSession(FAKE_CONFIG, resume=run, loader=toy_loader))
    async with running(app, ticking=True) as pilot:
        await plot_shows(pilot, "<=0 drawn at 1e-02", "nan/inf drawn at top")
        assert points(app.monitor.losses)[1] == pytest.approx(BAD_LOSSES, nan_ok=True)


@run_async
async def test_attaching_to_a_run_that_logged_zero_nan_and_inf_draws_its_curves(tmp_path):
    run = write_run(tmp_path, 0.1, BAD_LOSSES, [0.5, 0.6], finished=True)
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "finished", what="the run's history")
        # Closed before its lazily mounted settings form is up, the app trips Textual (NoMatches in Select).
        await wait_until(pilot, lambda: app.settings_pane.form is not None, what="the settings form")
        await plot_shows(pilot, "<=0 drawn at 1e-02", "nan/inf drawn at top")
        assert points(app.monitor.losses)[1] == pytest.approx(BAD_LOSSES, nan_ok=True)


@run_async
async def test_the_run_browser_shows_and_compares_runs_with_zero_nan_and_inf(tmp_path):
    from tui.screens.runs_screen import RunsScreen
    from tui.widgets.run_curves import RunCurves

    write_run(tmp_path, 0.1, BAD_LOSSES, [0.5, NAN], finished=True)
    write_run(tmp_path, 0.3, [1.0, 0.0, 0.0, 0.2], [0.7], finished=False)  # listed first: the newer
    app = fake_app()
    app.session.runs_dir = str(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "o")
        await wait_until(pilot, lambda: len(app.screen.runs) == 2, what="the runs to be read")
        await press(pilot, "down")  # the older run, highlighted: its curves alone
        loss, accuracy = app.screen.query(RunCurves)
        await wait_until(pilot, lambda: loss.runs[0].curves is not None, what="its curves, read on demand")
        assert len(loss.runs) == 1 and loss.runs[0].curves.loss.means() == pytest.approx(BAD_LOSSES, nan_ok=True)
        await wait_until(pilot, lambda: screen_text(app).count("nan/inf drawn at top") == 2,  # a nan accuracy too
                         what="both plots' nan marks")
        assert "<=0 drawn at 1e-02" in screen_text(app)
        await press(pilot, "space", "up", "space")  # both overlaid: one axis, one floor, one legend line
        assert len(loss.runs) == 2
        await wait_until(pilot, lambda: "1 vs 2" in screen_text(app), what="the two runs overlaid")
        assert screen_text(app).count("<=0 drawn at 1e-02") == 1 and isinstance(app.screen, RunsScreen)


# ---- the real engine -----------------------------------------------------------------------------

# Four digits, a wide net and Adam at 0.03: within a few hundred batches every margin is past where
# float32's 1 + 2^-24 rounds to 1, and the loss of a batch is exactly 0.0 (as on 5,000 MNIST digits
# after ~5,000 batches).
SURE = make_dataset(n_train=4, n_test=10, side=28)
SURE_CONFIG = TrainConfig(hidden_sizes=(100, 50), optimizer="adam", lr=0.03, batch_size=4, iters=2000,
                          weight_init="he", preview_count=10, insight_every=0)


@run_async
async def test_the_real_engine_trains_to_a_loss_of_exactly_zero_and_the_plot_stays_up():
    app = fake_app(SURE_CONFIG, loader=lambda *args, **kwargs: SURE, trainer_factory=Trainer)
    async with running(app, ticking=True) as pilot:
        await pilot.press("space")
        await wait_until(pilot, lambda: 0.0 in points(app.monitor.losses)[1], timeout=60, what="a loss of exactly 0.0")
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "paused", what="the pause")
        assert app.trainer.config.optimizer == "adam" and not app.monitor.markers
        await wait_until(pilot, lambda: FLOOR.search(loss_plot_text(app)), what="the floor in the legend")
        await pilot.press("l")
        await wait_until(pilot, lambda: "(log scale)" not in loss_plot_text(app), what="the linear plot")
        assert "drawn at" not in loss_plot_text(app) and "batch (min-max)" in loss_plot_text(app)
