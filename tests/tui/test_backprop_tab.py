"""The Backprop tab (7): what it shows is the layers' own values for the digits picked in Digits."""
from __future__ import annotations

import re

import numpy as np
from rich.console import Console

from engine.backprop_lesson import BACKWARD, FORWARD, lesson_network, walk
from tests.fakes import FAKE_CONFIG, REAL, TINY, tiny_loader
from tests.tui.harness import fake_app, press, run_async, running, settle, wait_until
from tui.app import BackpropApp
from tui.panes import BackpropPane
from tui.session import AttachedSession


def view_text(app) -> str:
    """The whole lesson as plain text (scrolled out of sight or not)."""
    pane = app.query_one(BackpropPane)
    console = Console(width=pane.body.size.width, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(pane.view.renderable)
    return capture.get()


def flat(text: str) -> str:
    """Words only: a long path wraps anywhere."""
    return " ".join(text.split())


async def open_tab(pilot, *keys: str) -> BackpropPane:
    app = pilot.app
    await press(pilot, "e")  # an evaluation: digits to pick from
    await press(pilot, "7", *keys)
    pane = app.query_one(BackpropPane)
    await wait_until(pilot, lambda: pane.lesson is not None, what="the lesson")
    return pane


def expected_walk(app, n: int = 1, start: int = 0, target: str = "labels"):
    """The lesson recomputed here from the parameters the app received and the digits it shows."""
    p, samples = app.monitor.parameters, app.monitor.samples
    picked = (start + np.arange(n)) % len(samples.labels)
    net = lesson_network(p.sizes, p.activation, p.params)
    return walk(net, samples.images[picked], getattr(samples, target)[picked])


def class_column(text: str, column: int) -> list[float]:
    """The numbers in column `column` (0-based, after the class name) of the class table in `text`."""
    rows = [line.split() for line in text.splitlines() if re.match(r"^\d +[-+0]", line)]
    assert len(rows) == 10, text
    return [float(row[1 + column]) for row in rows]


@run_async
async def test_each_forward_and_backward_step_shows_its_layer_formula_and_shapes():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        await open_tab(pilot)
        assert "Press f to run the forward pass" in view_text(app)
        expected = [("▶ forward 1/4 · Affine1", "out = x·W + b", "(1×784)·(784×50) + (50) = 1×50"),
                    ("▶ forward 2/4 · ReLU1", "out = x where x > 0, else 0", "elementwise: 1×50 → 1×50"),
                    ("▶ forward 3/4 · Affine2", "out = x·W + b", "(1×50)·(50×10) + (10) = 1×10"),
                    ("▶ forward 4/4 · SoftmaxWithLoss", "L = -Σ t log y / N", "1×10 → a scalar, the mean over N=1")]
        for title, formula, shape in expected:
            await press(pilot, "f")
            text = view_text(app)
            assert title in text and formula in text and shape in text, text
        await press(pilot, "f")  # the forward pass is done: f stays
        assert "▶ forward 4/4 · SoftmaxWithLoss" in view_text(app)
        expected = [("◀ backward 1/4 · SoftmaxWithLoss", "dx = (y - t) / N", "(1×10 - 1×10) / 1 = 1×10"),
                    ("◀ backward 2/4 · Affine2", "dW = xᵀ·dout", "(50×1)·(1×10) = 50×10"),
                    ("◀ backward 3/4 · ReLU1", "dx = dout where x > 0, else 0", "passed gradient to"),
                    ("◀ backward 4/4 · Affine1", "dx = dout·Wᵀ", "(784×1)·(1×50) = 784×50")]
        for title, formula, shape in expected:
            await press(pilot, "b")
            text = view_text(app)
            assert title in text and formula in text and shape in text, text
        await press(pilot, "z")
        assert "Press f to run the forward pass" in view_text(app)
        await press(pilot, "b")  # backward before forward: the forward pass is run first
        assert "◀ backward 1/4 · SoftmaxWithLoss" in view_text(app)


@run_async
async def test_the_numbers_shown_are_the_layers_values():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        await open_tab(pilot, "f", "f", "f")
        lesson = expected_walk(app)
        forward = {s.layer: s for s in lesson.steps if s.direction == FORWARD}
        backward = {s.layer: s for s in lesson.steps if s.direction == BACKWARD}
        np.testing.assert_allclose(class_column(view_text(app), 0), forward["Affine2"].values["out"][0], rtol=1e-3)
        await press(pilot, "f")  # softmax: a, t, y
        text = view_text(app)
        np.testing.assert_allclose(class_column(text, 0), forward["SoftmaxWithLoss"].values["a"][0], rtol=1e-3)
        np.testing.assert_allclose(class_column(text, 2), forward["SoftmaxWithLoss"].values["y"][0], rtol=1e-3)
        assert f"L = {lesson.loss:.6g}" in text
        await press(pilot, "b")  # y, t, dx = (y - t) / N
        dx = backward["SoftmaxWithLoss"].values["dx"][0]
        np.testing.assert_allclose(class_column(view_text(app), 2), dx, rtol=1e-3)
        relu = backward["ReLU1"].values["mask"][0]
        await press(pilot, "b", "b")
        assert f"{int(relu.sum())} of 50 pass" in view_text(app)


@run_async
async def test_n_digits_arrows_and_the_target_class():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        pane = await open_tab(pilot)
        assert "N=1: test #0 " in view_text(app)
        await press(pilot, "right")  # the next digit, in Digits too
        assert "N=1: test #1 " in view_text(app) and app.digits_pane.preview.selected == 1
        await press(pilot, "left", "plus", "plus", "f")
        text = view_text(app)
        assert "N=4: test #0 " in text and "test #3 " in text and "(4×784)·(784×50) + (50) = 4×50" in text
        assert len(pane.lesson.labels) == 4
        np.testing.assert_allclose(pane.lesson.loss, expected_walk(app, 4).loss, rtol=1e-12)
        await press(pilot, "minus", "minus", "minus", *["right"] * 5)  # test #5: the scripted mistake
        assert "N=1: test #5 (true 5, predicted 8, wrong)" in view_text(app)
        assert "for the true class 5" in view_text(app)
        np.testing.assert_allclose(pane.pixel_gradient, expected_walk(app, start=5).input_gradient[0], rtol=1e-12)
        await press(pilot, "v")
        assert "for the predicted class 8" in view_text(app)
        np.testing.assert_allclose(pane.pixel_gradient, expected_walk(app, start=5, target="predictions").input_gradient[0],
                                   rtol=1e-12)
        assert np.abs(pane.pixel_gradient - expected_walk(app, start=5).input_gradient[0]).max() > 1e-6  # another target


@run_async
async def test_without_digits_or_data_it_says_what_is_missing():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        await press(pilot, "7")
        pane = app.query_one(BackpropPane)
        await wait_until(pilot, lambda: "Pick a digit" in view_text(app), what="the hint")
        assert pane.lesson is None


@run_async
async def test_it_asks_for_fresh_parameters_when_the_run_stands_still_at_a_new_place():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        pane = await open_tab(pilot)
        asked = app.trainer.calls.count("parameters")
        first = app.monitor.parameters
        await press(pilot, "s")  # one batch further, paused
        await wait_until(pilot, lambda: app.monitor.parameters is not first, what="new parameters")
        assert app.trainer.calls.count("parameters") == asked + 1
        assert app.monitor.parameters.iteration == app.trainer.iteration == 1
        assert "iteration 1 " in view_text(app)
        await settle(pilot)
        assert app.trainer.calls.count("parameters") == asked + 1  # standing still: no more asking
        assert pane.lesson is not None


@run_async
async def test_attached_it_reads_the_newest_checkpoint(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.runs import new_run_dir
    from engine.trainer import Trainer

    run = new_run_dir(tmp_path, REAL, "784-50-10")
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await press(pilot, "7")
        pane = app.query_one(BackpropPane)
        await wait_until(pilot, lambda: "no checkpoints" in flat(view_text(app)), what="the missing checkpoint")
        assert "press c to ask the training process for one" in flat(view_text(app))

    trainer = Trainer(TINY, REAL)  # the process that trained the run, and saved a checkpoint at its end
    trainer.start()
    assert trainer.join(timeout=30) and trainer.iteration == REAL.iters
    (run / "checkpoints").mkdir(exist_ok=True)
    save_checkpoint(run / "checkpoints" / f"ckpt-{trainer.iteration:09d}.npz", trainer.checkpoint())
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        app.monitor.apply(sample_digits())  # the digits an attached monitor reads from the run's samples file
        await press(pilot, "7")
        pane = app.query_one(BackpropPane)
        await wait_until(pilot, lambda: pane.lesson is not None, what="the lesson")
        assert f"Backprop on the checkpoint at iteration {REAL.iters}" in flat(view_text(app))
        for key, value in trainer.network.params.items():
            np.testing.assert_array_equal(app.monitor.parameters.params[key], value)


def sample_digits():
    from engine import events as ev

    return ev.Samples(images=TINY.x_test[:4].reshape(4, 28, 28), labels=TINY.t_test[:4],
                      predictions=TINY.t_test[:4], probabilities=np.full((4, 10), 0.1, np.float32), iteration=0)


@run_async
async def test_real_engine_the_lesson_runs_on_the_live_parameters():
    from engine.trainer import Trainer

    app = fake_app(REAL, loader=tiny_loader, trainer_factory=Trainer)
    async with running(app, ticking=True) as pilot:
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await press(pilot, "7", "a")
        pane = app.query_one(BackpropPane)
        await wait_until(pilot, lambda: pane.lesson is not None and app.monitor.parameters.iteration == REAL.iters,
                         what="the finished network's lesson")
        assert app.monitor.parameters.source == "the live network"
        for key, value in app.trainer.network.params.items():
            np.testing.assert_array_equal(app.monitor.parameters.params[key], value)
        assert "◀ backward 4/4 · Affine1" in view_text(app)


@run_async
async def test_parameters_that_overflow_are_shown_not_a_crash():
    """Finite parameters can still overflow in float64 (a blown-up run's checkpoint): nan and inf are drawn."""
    from engine import events as ev

    app = fake_app()
    async with running(app, ticking=True) as pilot:
        pane = await open_tab(pilot)
        p = app.monitor.parameters
        huge = {k: (np.full(v.shape, 1e300) if k.startswith("W") else v) for k, v in p.params.items()}
        app.session.events.append(ev.Parameters(p.iteration, p.sizes, p.activation, huge, "the live network"))
        await wait_until(pilot, lambda: app.monitor.parameters is not p, what="the huge ones")
        await press(pilot, "f", "f", "f", "f", "b")
        assert not np.isfinite(pane.lesson.loss)
        text = view_text(app)
        assert "◀ backward 1/4 · SoftmaxWithLoss" in text and "nan" in text
