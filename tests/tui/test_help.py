"""The help screen lists every binding."""
from __future__ import annotations

import io

from tests.tui.harness import fake_app, press, run_async, running, screen_text
from tui.app import BackpropApp
from tui.screens.help_screen import HelpScreen, key_label


@run_async
async def test_help_lists_every_binding():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        # The table, rendered wide enough that nothing wraps (the dialog scrolls).
        from rich.console import Console
        from textual.widgets import Static

        console = Console(width=300, record=True, file=io.StringIO())
        console.print(app.screen.query_one(Static).content)
        table = console.export_text()
        for binding in BackpropApp.BINDINGS:
            assert key_label(binding.key) in table, binding.key
            description = BackpropApp.HELP.get(binding.action, binding.description)
            assert description in table, description
        assert "backprop-tui keys" in screen_text(app)
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
        await press(pilot, "question_mark", "question_mark")  # ? closes it too
        assert not isinstance(app.screen, HelpScreen)
