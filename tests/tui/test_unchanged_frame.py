"""Issue 15's "an unchanged frame for unchanged data": a Monitor plot redrawn with no new data sends the
terminal nothing and keeps its lines; redrawn after one new batch, it sends a small part of a frame.

(The same check over two hours' worth of redraws, with the memory measured: bench/soak_bench.py.)
"""
from __future__ import annotations

import dataclasses

from tests.fakes import FAKE_CONFIG
from tests.tui.harness import fake_app, press, run_async, running
from tui.options import UiOptions


def full_frame(plot) -> int:
    """The cells a redraw that changed every cell would send."""
    return plot.size.height * plot.size.width


@run_async
async def test_a_plot_redrawn_with_no_new_data_sends_nothing_and_after_one_batch_a_small_part_of_a_frame():
    config = dataclasses.replace(FAKE_CONFIG, iters=400)
    app = fake_app(config, ui=UiOptions(plot_interval=0.0, status_interval=0.1))
    async with running(app) as pilot:
        await press(pilot, *["s"] * 20)  # paused, a step at a time: the plots redraw at every one
        loss, accuracy = app.monitor_pane.loss_plot, app.monitor_pane.accuracy_plot
        for plot in (loss, accuracy):
            sent, lines = plot.cells_sent, plot.lines
            for _ in range(2):
                plot.redraw()
                await pilot.pause()
            assert plot.cells_sent == sent, type(plot).__name__
            assert plot.lines == lines, type(plot).__name__
        sent = loss.cells_sent
        await press(pilot, "s")
        assert 0 < loss.cells_sent - sent < full_frame(loss) / 10, (loss.cells_sent - sent, full_frame(loss))
