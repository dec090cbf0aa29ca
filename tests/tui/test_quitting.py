"""Quitting: asked while a run trains (q or Textual's own quit), at once otherwise."""
from __future__ import annotations

import pytest

from tests.tui.harness import fake_app, press, run_async, running, settle
from tui.screens.confirm_screen import ConfirmScreen


@run_async
async def test_quit_while_running_asks():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        await press(pilot, "q")
        assert isinstance(app.screen, ConfirmScreen) and "Quit" in app.screen.question
        await press(pilot, "n")
        assert app.is_running and trainer.state == "running"
        await press(pilot, "q")
        await pilot.press("y")
    assert app.return_code == 0
    assert trainer.state == "stopped" and trainer.calls[-1] == "stop"


@pytest.mark.parametrize("keys", [[], ["s"]], ids=["idle", "paused"])
@run_async
async def test_quit_when_not_running_exits_at_once(keys):
    app = fake_app()
    async with running(app) as pilot:
        if keys:
            await press(pilot, *keys)
        await pilot.press("q")
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code == 0


@run_async
async def test_textual_quit_asks_while_running_too():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        await app.run_action("quit")  # what ctrl+q and the palette's own "Quit" run
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")
        assert app.is_running and app.monitor.state == "running"
