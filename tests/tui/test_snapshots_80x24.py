"""Every tab at 80x24 (an SSH window's default), as SVG snapshots with the scripted trainer.

The Monitor at 80x24 is tests/tui/test_snapshots.py::test_main_screen_80x24. Each view here must show all
it carries at this size: the Settings form whole (labels uncut, all twelve fields), the weight images'
heading with its unit count and the labels under the images, the confusion matrix and its heading, the
worst mistakes as digits with their count, the graph lesson, and the run browser. (The help dialog
scrolls: its snapshot is test_snapshots.py's, at 120x40.) Regenerate after an intended UI change with:
    .venv/bin/python -m pytest -n 0 tests/tui/test_snapshots_80x24.py --snapshot-update
"""
from __future__ import annotations

import dataclasses

from tests.fakes import FAKE_CONFIG, write_run
from tests.tui.harness import fake_app, press, ready, run_async, running, screen_text, stop_ticking, wait_until
from tests.tui.test_snapshots import scripted_run

SIZE = (80, 24)


def test_digits_worst_mistakes_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=scripted_run, press=["2", "w", "down"])


async def settings_with_a_refusal(pilot) -> None:
    """The form after a refused learning rate: its note wraps beside the field; Esc leaves the form."""
    await scripted_run(pilot)
    await press(pilot, "3", "tab")
    pilot.app.query_one("#field-lr").value = "fast"
    await press(pilot, "enter", "escape")


def test_settings_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=settings_with_a_refusal)


def test_errors_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=scripted_run, press=["4", "down", "down"])


def test_layers_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=scripted_run, press=["5"])


async def idle(pilot) -> None:
    await ready(pilot)
    stop_ticking(pilot.app)


def test_graph_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=idle, press=["6", "b", "b", "b"])


def test_run_browser_80x24(snap_compare, tmp_path, monkeypatch):
    # Fixed names (a run's name is its start time, shown in the list) in a folder named as the title shows it.
    for stamp, lr, losses, accuracies in (("20260101T090000Z", 0.1, [2.3, 1.0, 0.5, 0.2] * 5, [0.5, 0.9]),
                                          ("20260102T090000Z", 0.02, [2.3, 2.0, 1.8] * 4, [0.3])):
        run = write_run(tmp_path / "runs", lr, losses, accuracies, finished=lr == 0.1)
        run.rename(run.with_name(f"{stamp}-mnist-784-16-10"))
    monkeypatch.chdir(tmp_path)
    app = fake_app()
    app.session.runs_dir = "runs"

    async def browse(pilot) -> None:
        await idle(pilot)
        await press(pilot, "o")
        await wait_until(pilot, lambda: len(getattr(app.screen, "runs", ())) == 2, what="the runs to be read")
        await press(pilot, "space", "down", "space")
        await wait_until(pilot, lambda: all(run.curves is not None for run in app.screen.runs),
                         what="their curves, read on demand")

    assert snap_compare(app, terminal_size=SIZE, run_before=browse)


@run_async
async def test_layers_tab_of_a_deep_network_scrolls_to_its_weight_images_at_80x24():
    """Three layers' statistics leave the images less than a row at 80x24: the tab scrolls (up/down)."""
    app = fake_app(dataclasses.replace(FAKE_CONFIG, hidden_sizes=(100, 50)))
    async with running(app, size=SIZE) as pilot:
        await press(pilot, "s", "e", "5")
        body = app.layers_pane.body
        assert app.focused is body and body.max_scroll_y > 0
        assert "Affine3" in screen_text(app) and "unit 1 " not in screen_text(app)
        await press(pilot, *["down"] * body.max_scroll_y)
        text = screen_text(app)
        assert "units 1-5 of 100" in text and "unit 1 " in text and "unit 5" in text
        await press(pilot, "n")  # n still pages the units
        assert "units 6-10 of 100" in screen_text(app) and "unit 10" in screen_text(app)


def backprop_at(*keys: str):
    """The Backprop tab after the scripted run, its lesson stepped with `keys`."""
    async def run_before(pilot) -> None:
        await scripted_run(pilot)
        await press(pilot, "7")
        await press(pilot, *keys)  # the first press's tick asked for the parameters; they are in by now
    return run_before


def test_backprop_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=backprop_at("f", "f", "f", "f", "b", "b", "b"))


def test_backprop_tab_ascii_80x24(snap_compare):
    from tui.options import UiOptions

    assert snap_compare(fake_app(ui=UiOptions(ascii=True)), terminal_size=SIZE, run_before=backprop_at("a"))


async def lab_with_no_n(pilot) -> None:
    """The Lab after the scripted run: "SoftmaxWithLoss.backward without / N" put in and checked."""
    from tui.panes import LabPane

    await scripted_run(pilot)
    await press(pilot, "8")
    pilot.app.query_one(LabPane).clock = lambda: 0.0  # "(0 ms)": the check's time is not the picture's
    await press(pilot, "down", "down", "enter", "g")


def test_lab_tab_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=lab_with_no_n)
