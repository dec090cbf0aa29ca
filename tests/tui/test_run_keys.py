"""Start, pause, resume, step and reset from the keys (space, s, r), on the scripted trainer."""
from __future__ import annotations

from tests.fakes import ScriptedTrainer, points
from tests.tui.harness import fake_app, press, run_async, running, settle, status_text
from tui.screens.confirm_screen import ConfirmScreen
from tui.widgets.digit_preview import DigitPreview
from tui.widgets.gradcheck_table import GradCheckTable


@run_async
async def test_space_starts_pauses_and_resumes_and_s_steps():
    app = fake_app()
    async with running(app) as pilot:
        assert "IDLE" in status_text(app)
        await press(pilot, "space")
        trainer = app.trainer
        assert isinstance(trainer, ScriptedTrainer)
        assert trainer.state == "running" and app.monitor.state == "running"
        trainer.advance(3)
        await settle(pilot)
        assert app.monitor.iteration == 3 and len(app.monitor.losses) == 3
        status = status_text(app)
        assert "RUNNING" in status and "iter 3/1,000" in status and "12k samples/s" in status
        await press(pilot, "space")
        assert trainer.state == "paused" and app.monitor.state == "paused"
        assert "PAUSED" in status_text(app)
        trainer.advance(5)  # a paused trainer trains nothing
        await press(pilot, "space")
        assert trainer.state == "running" and app.monitor.state == "running"
        assert app.monitor.iteration == 3
        # While running, s pauses first and then runs exactly one batch.
        await press(pilot, "s")
        assert app.monitor.state == "paused" and app.monitor.iteration == 4
        await press(pilot, "s")
        assert app.monitor.state == "paused" and app.monitor.iteration == 5
        assert "PAUSED" in status_text(app) and "iter 5/" in status_text(app)
        assert trainer.calls == ["start", "pause", "resume", "step", "step"]


@run_async
async def test_step_from_idle_starts_paused():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        assert app.trainer.calls == ["start", "step"]
        assert app.monitor.state == "paused" and app.monitor.iteration == 1
        assert app.monitor.accuracy and app.monitor.samples is not None  # the initial evaluation


@run_async
async def test_reset_asks_then_starts_a_fresh_run():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        old = app.trainer
        old.advance(5)
        await press(pilot, "g")
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Reset training?" in app.screen.question
        await press(pilot, "n")  # no: nothing happens
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.trainer is old and app.monitor.iteration == 5 and old.state == "running"
        await press(pilot, "r")
        await press(pilot, "y")
        assert app.trainer is not old and old.state == "stopped" and "stop" in old.calls
        assert app.trainer.state == "idle"
        m = app.monitor
        assert (m.state, m.iteration, points(m.losses), m.accuracy, m.markers) == ("idle", 0, ([], []), [], [])
        assert len(app.query_one(GradCheckTable).names) == 0
        assert app.query_one(DigitPreview).samples is None
        assert "IDLE" in status_text(app) and "iter 0/" in status_text(app)
        # Events the old trainer sends after the reset are dropped.
        old.state = "running"
        old.advance(3)
        await settle(pilot)
        assert app.monitor.iteration == 0 and app.monitor.state == "idle"
        # The new run starts from scratch.
        await press(pilot, "s")
        assert app.monitor.iteration == 1
