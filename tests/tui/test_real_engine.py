"""The app on the real engine (engine.trainer.Trainer) on tiny data, and the scripted trainer checked against it."""
from __future__ import annotations

import math

import pytest

from engine.config import ConfigError, TrainConfig
from engine.trainer import Trainer
from tests.fakes import REAL, TINY, ScriptedTrainer, points, tiny_loader
from tests.tui.harness import fake_app, notifications, run_async, running, status_text, wait_until
from tui.app import BackpropApp
from tui.screens.confirm_screen import ConfirmScreen
from tui.widgets.gradcheck_table import GradCheckTable


def real_app(config: TrainConfig = REAL) -> BackpropApp:
    return fake_app(config, loader=tiny_loader, trainer_factory=Trainer)


@pytest.mark.parametrize("name, value", [("lr", 0), ("lr", -1.0), ("lr", "abc"), ("batch_size", 0),
                                         ("optimizer", "rmsprop"), ("gradcheck_every", -1)])
def test_scripted_trainer_refuses_settings_like_the_real_one(name, value):
    for cls in (Trainer, ScriptedTrainer):
        events = []
        trainer = cls(TINY, REAL, events.append)
        with pytest.raises(ConfigError) as info:
            trainer.set(name, value)
        assert name in info.value.problems, cls
        assert events == [] and trainer.config == REAL


@run_async
async def test_real_engine_runs_to_the_end():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        assert isinstance(app.trainer, Trainer)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await pilot.pause()
        m = app.monitor
        assert m.iteration == 30 and len(m.losses) == 30
        assert all(math.isfinite(loss) for loss in points(m.losses)[1])
        assert m.accuracy and m.samples is not None and m.architecture == "784-16-10"
        assert "FINISHED" in status_text(app) and "iter 30/30" in status_text(app)
        assert any("Finished" in n.message for n in notifications(app))


@run_async
async def test_real_engine_step_and_reset():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="one step")
        assert app.monitor.state == "paused"
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: app.monitor.markers, what="the lr marker")
        assert app.monitor.markers[0].label == "lr=0.2"
        assert app.trainer.config.lr == pytest.approx(0.2) and "lr 0.2 " in status_text(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 2, what="a second step")
        assert app.monitor.lr == pytest.approx(0.2)
        await pilot.press("g")
        await wait_until(pilot, lambda: len(app.monitor.gradcheck) == 4, what="the gradient check")
        assert all(row.passed for row in app.monitor.gradcheck)
        assert len(app.query_one(GradCheckTable).names) == 4
        old = app.trainer
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.monitor.state == "idle", what="the reset")
        assert app.trainer is not old and not old.alive and old.state == "stopped"
        assert app.monitor.iteration == 0 and not len(app.monitor.losses)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="a step of the new run")


@run_async
async def test_real_engine_gradcheck_after_the_run_ended_is_not_ignored():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await pilot.pause()
        before = len(notifications(app))
        await pilot.press("g")
        await wait_until(pilot, lambda: app.monitor.gradcheck or len(notifications(app)) > before,
                         what="a check or a notice")


@run_async
async def test_real_engine_lr_keys_before_start_compound():
    app = real_app(REAL.with_changes(iters=10_000))
    async with running(app, ticking=True) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="one step")
        await wait_until(pilot, lambda: app.trainer.config.lr == pytest.approx(0.4), what="both lr steps")
