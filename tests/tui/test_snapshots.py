"""SVG snapshots of the monitor with the scripted trainer (pytest-textual-snapshot).

Everything on screen is fixed: the losses, accuracies, digits and grad-check
rows come from ScriptedTrainer, samples/s is a constant, and the run is paused
when the picture is taken, so the elapsed clock reads 0:00 and the ETA "-".
Regenerate after an intended UI change with:
    .venv/bin/python -m pytest -n 0 tests/tui/test_snapshots.py --snapshot-update
"""
from __future__ import annotations

from tests.tui.harness import fake_app, press, ready, settle, stop_ticking


async def scripted_run(pilot) -> None:
    """100 batches with an lr change at 60, an evaluation and a gradient check; paused."""
    app = pilot.app
    await ready(pilot)
    await press(pilot, "s")  # starts paused, one batch
    for _ in range(59):
        app.trainer.step()
    await press(pilot, "right_square_bracket")
    for _ in range(40):
        app.trainer.step()
    await press(pilot, "e", "g")
    stop_ticking(app)  # nothing changes from here on
    await settle(pilot)


def test_main_screen(snap_compare):
    assert snap_compare(fake_app(), terminal_size=(120, 40), run_before=scripted_run)


def test_main_screen_80x24(snap_compare):
    assert snap_compare(fake_app(), terminal_size=(80, 24), run_before=scripted_run)


def test_digits_tab(snap_compare):
    assert snap_compare(fake_app(), terminal_size=(120, 40), run_before=scripted_run, press=["2", "down"])


def test_help_screen(snap_compare):
    assert snap_compare(fake_app(), terminal_size=(120, 40), run_before=scripted_run, press=["question_mark"])


async def backprop_softmax_gradient(pilot) -> None:
    """The Backprop tab on the scripted mistake (test #5): the forward pass, then the loss's gradient."""
    await scripted_run(pilot)
    await press(pilot, "7")
    await press(pilot, *["right"] * 5, "f", "f", "f", "f", "b")


def test_backprop_tab(snap_compare):
    assert snap_compare(fake_app(), terminal_size=(120, 40), run_before=backprop_softmax_gradient)
