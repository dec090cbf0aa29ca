"""The insight tabs driven by Pilot with the scripted trainer: Errors, Layers and Graph."""
from __future__ import annotations

import numpy as np
import pytest

from engine.insight import confusion_matrix
from tests.fakes import TOY
from tests.tui.harness import fake_app, notifications, press, run_async, running, screen_text
from tui.screens.help_screen import HelpScreen
from tui.widgets.computational_graph import ComputationalGraph

SIZES = [(80, 24), (120, 40)]


async def scored(pilot) -> None:
    """Start the scripted run paused: it scores the test set at once."""
    await press(pilot, "s")
    assert pilot.app.monitor.predictions is not None


async def move_cursor(pilot, to: tuple[int, int]) -> None:
    matrix = pilot.app.query_one("#confusion")
    row, column = matrix.cursor
    keys = ["down" if to[0] > row else "up"] * abs(to[0] - row)
    keys += ["right" if to[1] > column else "left"] * abs(to[1] - column)
    await press(pilot, *keys)
    assert matrix.cursor == to


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_errors_tab_shows_the_confusion_matrix_and_a_cell_opens_its_digits(size):
    app = fake_app()
    async with running(app, size=size) as pilot:
        await press(pilot, "4")
        assert "confusion matrix appears with the first score" in screen_text(app)
        await scored(pilot)
        m = app.monitor
        expected = confusion_matrix(TOY.t_test, m.predictions.predictions, 10)
        assert np.array_equal(m.confusion, expected) and m.confusion.sum() == len(TOY.t_test)
        text = screen_text(app)
        right = np.trace(expected)
        assert f"confusion on {len(TOY.t_test)} test digits" in text and f"{right / len(TOY.t_test):.2%} right" in text
        for label in range(10):  # each row's counts, as drawn
            row = next(line for line in text.splitlines() if line.startswith(f"{label}     "))
            assert [int(n) for n in row.split()[1:11]] == list(expected[label])
        assert app.focused is app.query_one("#confusion")

        label, prediction = map(int, np.argwhere(expected - np.diag(np.diag(expected)))[0])  # a mistake cell
        await move_cursor(pilot, (label, prediction))
        await press(pilot, "enter")
        assert app.tabs.active == "digits"
        shown = app.digits_pane.preview.samples
        assert len(shown.labels) == expected[label, prediction]
        assert set(shown.labels) == {label} and set(shown.predictions) == {prediction}
        assert np.array_equal(shown.images, TOY.x_test[shown.indices].reshape(-1, 28, 28))
        assert f"true {label}, predicted {prediction}" in screen_text(app)
        await press(pilot, "escape")  # back to the preview digits
        assert app.digits_pane.preview.samples is m.samples and "test digits 1-" in screen_text(app)


@run_async
async def test_w_browses_the_worst_mistakes_most_confident_first():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "w")
        assert any("No score of the test set yet" in str(n.message) for n in notifications(app))
        assert app.tabs.active == "monitor"
        await scored(pilot)
        await press(pilot, "4")
        text = screen_text(app)
        wrong = int((app.monitor.predictions.predictions != TOY.t_test).sum())
        assert f"most confidently wrong, of {wrong} mistakes" in text
        await press(pilot, "w")
        shown = app.digits_pane.preview.samples
        assert app.tabs.active == "digits" and len(shown.labels) == wrong
        assert (shown.predictions != shown.labels).all()
        confidence = shown.probabilities[np.arange(len(shown.labels)), shown.predictions]
        assert (np.diff(confidence) <= 0).all()
        assert "the most confidently wrong test digits" in screen_text(app)
        await press(pilot, "down")  # the selection walks the mistakes; the bars name the test digit
        assert f"test #{shown.indices[1]}:" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_layers_tab_shows_histograms_norms_dead_units_and_weight_images(size):
    app = fake_app()
    async with running(app, size=size) as pilot:
        await press(pilot, "5")
        assert "Layer statistics come every" in screen_text(app)
        await scored(pilot)
        await press(pilot, "e")  # a second score: a second point of the gradient norms
        text = screen_text(app)
        assert "layers at iteration 1:" in text
        assert "dead ReLU units 25%" in text and "no ReLU after it" in text
        assert "|dW| over iterations 0-1" in text
        assert "units 1-" in text and "of 50" in text
        view = app.layers_pane.weight_images
        assert view.pages > 1
        await press(pilot, "n")
        assert view.page == 1 and f"units {view.grid[0] * view.grid[1] + 1}-" in screen_text(app)


@run_async
async def test_graph_tab_teaches_the_apple_example_from_the_keyboard():
    app = fake_app()
    async with running(app, size=(80, 24)) as pilot:
        await press(pilot, "6")
        await pilot.pause(0.2)
        graph = app.query_one(ComputationalGraph)
        assert app.focused is graph
        await press(pilot, "a")  # the whole backward pass
        text = screen_text(app)
        for number in ("330", "3.3", "110", "300"):
            assert number in text
        await press(pilot, "1")
        assert app.focused is None and app.tabs.active == "monitor"


@run_async
async def test_help_lists_the_insight_keys():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed: dict[str, list[str]] = {}  # a key can mean one thing per tab (b: Graph, Backprop)
        for keys, what in app.screen.entries:
            listed.setdefault(keys, []).append(what)
        assert listed["4"][0].startswith("Errors tab") and listed["5"][0].startswith("Layers tab")
        assert listed["6"][0].startswith("Graph tab") and "most confidently wrong" in listed["w"][0]
        assert any("digits of this cell" in what for what in listed["enter"])
        assert any(what.startswith("Backward: one node further") for what in listed["b"])
        assert any(what.startswith("Lab: put the chosen bug") for what in listed["enter"])
        assert "Errors tab: confusion matrix" in screen_text(app)  # on screen, not just listed


def test_the_matrix_names_fashion_classes_and_shades_by_share_of_the_row():
    from engine.registry import REGISTRY
    from tui.widgets.confusion_matrix import render_matrix, shade

    names = REGISTRY["fashion-mnist"].class_names
    counts = np.diag(np.full(10, 90)) + np.eye(10, k=1, dtype=int) * 10
    text = render_matrix(counts, names, cursor=(0, 1))
    lines = text.plain.splitlines()
    assert lines[1].split()[:3] == ["T-sh", "Trou", "Pull"] and lines[1].split()[-1] == "right"
    assert lines[2].startswith("T-shi ") and lines[2].split()[1:4] == ["90", "10", "0"] and lines[2].endswith("90%")
    assert lines[11].startswith("Ankle ") and lines[11].endswith("100%")  # the last row has no mistake
    assert shade(0.9, True).startswith("on rgb(0,") and shade(0.1, False).startswith("on rgb(")
    assert shade(0.0, False) == ""  # nothing: no shading
    cursor = [span for span in text.spans if "reverse" in str(span.style)]
    assert len(cursor) == 1 and text.plain[cursor[0].start:cursor[0].end].strip() == "10"


@run_async
async def test_the_layer_stats_interval_is_a_live_setting():
    from textual.widgets import Input

    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s", "3")
        await pilot.pause(0.2)
        field = app.query_one("#field-insight_every", Input)
        field.focus()
        field.value = ""
        await press(pilot, *"50", "enter")
        assert app.trainer.config.insight_every == 50
        assert not any(m.iteration == 1 and "insight" in m.label for m in app.monitor.markers)  # not a training change
        field.value = ""
        await press(pilot, *"-3", "enter")
        assert "insight every must be a whole number from 0" in screen_text(app)
        assert app.trainer.config.insight_every == 50


def test_weight_images_are_half_size_red_for_positive_blue_for_negative():
    from tui.widgets.weight_images import halve, weight_text

    image = np.zeros((28, 28), dtype=np.float32)
    image[:, :14], image[:, 14:] = 0.5, -0.25
    assert np.array_equal(halve(np.arange(16.0).reshape(4, 4)), [[2.5, 4.5], [10.5, 12.5]])
    text = weight_text(image)
    lines = text.plain.split("\n")
    assert len(lines) == 7 and all(len(line) == 14 for line in lines)  # 14x14 pixels in 14x7 cells
    first, last = text.spans[0].style, text.spans[-1].style
    red, blue = first.color.get_truecolor(), last.color.get_truecolor()
    assert red.red == 255 and red.blue == 0  # the largest |weight| is full red
    assert blue.red == 0 and blue.blue == 128  # half of it, negative: half blue
