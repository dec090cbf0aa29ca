"""Small terminals (80x24, 20x5): the tabs and the help render, and the app stays up."""
from __future__ import annotations

import pytest

from tests.tui.harness import fake_app, press, run_async, running, screen_text


@pytest.mark.parametrize("size", [(80, 24), (20, 5)])
@run_async
async def test_small_terminals_render(size):
    app = fake_app()
    async with running(app, size=size) as pilot:
        for keys in (["s", "g"], ["2", "m"], ["3"], ["escape", "1", "space", "question_mark"]):
            await press(pilot, *keys)
            assert screen_text(app)  # renders without raising
        assert app.monitor.iteration == 1 and app.monitor.gradcheck and app.monitor.state == "running"
        assert app.is_running and app.return_code is None
        assert app.has_class("narrow")
