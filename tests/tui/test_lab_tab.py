"""The Lab tab (8): a bug put into a copy of the layers is caught by g, shown red with a hint and an error map;
taken out, the check passes again; the training run never sees it."""
from __future__ import annotations

import numpy as np
from rich.console import Console

from engine.gradcheck_lab import BUGS, BY_KEY
from tests.fakes import REAL, tiny_loader
from tests.tui.harness import fake_app, press, run_async, running, wait_until
from tui.panes import LabPane


def view_text(app) -> str:
    pane = app.query_one(LabPane)
    console = Console(width=pane.body.size.width, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(pane.view.renderable)
        console.print(pane.map_view.renderable)
    return capture.get()


def flat(text: str) -> str:
    return " ".join(text.split())


async def open_lab(pilot) -> LabPane:
    app = pilot.app
    await press(pilot, "e", "8")  # digits to check on; the tab asks for the parameters
    await wait_until(pilot, lambda: app.monitor.parameters is not None, what="the parameters")
    return app.query_one(LabPane)


def cursor_to(bug) -> list[str]:
    return ["down"] * (BUGS.index(bug) + 1)


@run_async
async def test_a_bug_is_caught_shown_and_taken_out_again():
    app = fake_app()
    async with running(app, ticking=True) as pilot:
        pane = await open_lab(pilot)
        await press(pilot, "g")  # the correct layers first
        assert all(c.row.passed for c in pane.result.checks)
        assert "Every tensor passes" in view_text(app)
        await press(pilot, *cursor_to(BY_KEY["no-n"]), "enter", "g")
        assert pane.bug is BY_KEY["no-n"]
        text = flat(view_text(app))
        assert "check with “SoftmaxWithLoss.backward without / N”" in text
        assert text.count("FAIL") == 4 and "the / N is missing" in text and "N = 3" in text
        assert "error map of W1 (784×50)" in text and "worst elements:" in text
        await press(pilot, "right")
        assert "error map of b1 (50)" in flat(view_text(app))
        await press(pilot, "enter", "g")  # the same bug again: taken out
        assert pane.bug is None and all(c.row.passed for c in pane.result.checks)
        assert "FAIL" not in view_text(app)


@run_async
async def test_a_bug_that_does_not_fit_says_why_and_the_palette_puts_one_in():
    app = fake_app()  # 784-50-10 with ReLU: no Sigmoid, no square W
    async with running(app, ticking=True) as pilot:
        pane = await open_lab(pilot)
        await press(pilot, *cursor_to(BY_KEY["sigmoid-input"]), "enter")
        assert pane.bug is None and "this network has no Sigmoid layer" in flat(view_text(app))
        app.inject(BY_KEY["twice"])  # what the command palette's "Lab: inject ..." entry runs
        await press(pilot, "g")
        assert pane.bug is BY_KEY["twice"] and app.tabs.active == "lab"
        assert "two backward passes" in flat(view_text(app))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert all(f"Lab: inject “{bug.title}”" in titles for bug in BUGS)


async def trained_parameters(with_bugs: bool) -> dict:
    """A short real run from a fixed seed, paused after one batch, optionally with every fitting bug put in and
    checked, then run to its end: its final parameters."""
    from engine.trainer import Trainer

    app = fake_app(REAL.with_changes(iters=40), loader=tiny_loader, trainer_factory=Trainer)
    async with running(app, ticking=True) as pilot:
        await press(pilot, "s")  # one batch, paused
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="one batch")
        if with_bugs:
            pane = await open_lab(pilot)
            await wait_until(pilot, lambda: app.monitor.samples is not None, what="digits")
            for bug in BUGS:  # what Enter and g do, called directly: no wait for an idle screen per key
                pane.put_in(bug)
                pane.check()
                assert pane.bug is None or pane.result.bug is bug
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=30, what="the end")
        return {k: v.copy() for k, v in app.trainer.network.params.items()}


@run_async
async def test_the_training_run_never_sees_a_bug():
    """The same run trained twice from the same seed, with and without every bug put in and checked halfway:
    the parameters come out bit-identical."""
    plain, buggy = await trained_parameters(False), await trained_parameters(True)
    for key, value in plain.items():
        np.testing.assert_array_equal(buggy[key], value)
