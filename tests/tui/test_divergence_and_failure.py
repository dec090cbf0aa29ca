"""How a run ends: diverged (pauses, lower the rate and go on), failed (reset recovers), finished."""
from __future__ import annotations

import pytest

from tests.fakes import FAKE_CONFIG
from tests.tui.harness import (
    fake_app,
    message_text,
    notifications,
    press,
    run_async,
    running,
    screen_text,
    settle,
    status_text,
)


@run_async
async def test_diverged_pauses_with_a_notification():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        trainer.advance(4)
        trainer.diverge(float("nan"))
        await settle(pilot)
        assert app.monitor.state == "diverged"
        assert "DIVERGED" in status_text(app)
        assert "diverged at iteration 5" in message_text(app)
        titles = [n.title for n in notifications(app)]
        assert any("Diverged" in t for t in titles), titles
        # Lower the rate and resume.
        await press(pilot, "left_square_bracket")
        assert trainer.config.lr == pytest.approx(0.05)
        await press(pilot, "space")
        assert app.monitor.state == "running" and message_text(app).strip() == ""


@run_async
async def test_failed_shows_the_message_and_reset_recovers():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        trainer.advance(2)
        trainer.fail("MemoryError: cannot allocate 3.2 GiB")
        await settle(pilot)
        assert app.monitor.state == "failed"
        assert "FAILED" in status_text(app)
        assert "MemoryError: cannot allocate 3.2 GiB" in message_text(app)
        assert "MemoryError: cannot allocate 3.2 GiB" in screen_text(app)
        assert any(n.severity == "error" for n in notifications(app))
        # Space and s are refused (the run has ended); the app stays up.
        await press(pilot, "space", "s")
        assert trainer.calls.count("resume") == 0 and trainer.calls.count("step") == 0
        assert app.is_running
        await press(pilot, "r", "y")
        assert app.trainer is not trainer and app.monitor.state == "idle"
        assert message_text(app).strip() == ""
        await press(pilot, "s")
        assert app.monitor.iteration == 1


@run_async
async def test_finished_notifies_and_refuses_to_continue():
    app = fake_app(FAKE_CONFIG.with_changes(iters=3))
    async with running(app) as pilot:
        await press(pilot, "space")
        app.trainer.advance(10)
        await settle(pilot)
        assert app.monitor.state == "finished" and app.monitor.iteration == 3
        assert any("Finished at iteration 3" in n.message for n in notifications(app))
        await press(pilot, "space")
        assert app.trainer.calls.count("resume") == 0
