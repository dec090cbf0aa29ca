"""The gradient-check table: one row per tensor, updated in place, FAIL in red."""
from __future__ import annotations

import dataclasses

from engine import events as ev
from tests.fakes import gradcheck_rows
from tests.tui.harness import fake_app, press, run_async, running, screen_text, settle
from tui.widgets.gradcheck_table import GradCheckTable


@run_async
async def test_gradcheck_fills_one_row_per_tensor():
    hidden, names = (50,), ["W1", "b1", "W2", "b2"]
    app = fake_app()
    async with running(app) as pilot:
        table = app.query_one("#gradcheck", GradCheckTable)
        assert len(table.names) == 0
        await press(pilot, "g")
        assert app.trainer.calls == ["start", "gradcheck"] and app.trainer.state == "paused"
        assert len(table.names) == len(names)
        assert table.names == names
        sizes = [784, *hidden, 10]
        assert table.get_cell("W1", "shape") == f"784x{hidden[0]}"
        assert table.get_cell("b1", "shape") == str(hidden[0])
        assert table.get_cell("W1", "count") == f"{784 * hidden[0]:,}"
        assert table.get_cell(names[-2], "shape") == f"{sizes[-2]}x10"
        for name in names:
            result = table.get_cell(name, "result")
            assert result.plain == "pass" and "green" in str(result.style)
        text = screen_text(app)
        assert "pass" in text and "gradient check at iteration 0" in text
        # A later check updates the same rows in place.
        await press(pilot, "s", "s", "g")
        assert len(table.names) == len(names) and "gradient check at iteration 2 " in screen_text(app)
        # A failing tensor shows FAIL in red.
        rows = [dataclasses.replace(r, passed=r.name != "b2") for r in gradcheck_rows([784, 50, 10])]
        app.trainer._emit(ev.GradCheckDone(tuple(rows), 2, 0.01))
        await settle(pilot)
        cell = table.get_cell("b2", "result")
        assert cell.plain == "FAIL" and "red" in str(cell.style)
        assert table.get_cell("W1", "result").plain == "pass"
