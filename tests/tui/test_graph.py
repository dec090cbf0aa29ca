"""The computational-graph lesson driven by Pilot, in a small app that mounts only its widget."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

import tui
from tests.tui.harness import run_async, screen_text
from tui.app import BackpropApp
from tui.widgets.computational_graph import HELP, ComputationalGraph

SIZES = [(80, 24), (120, 40)]
NUMBER = re.compile(r"(?<= )-?\d[\d.e+-]*(?= )")


class GraphApp(App):
    CSS_PATH = Path(tui.__file__).parent / "app.tcss"  # the real app's styles
    # Keys the real app binds too: the widget must let them through when it has no use for them.
    BINDINGS = [Binding("escape", "record('escape')"), Binding("down", "record('down')")]

    def __init__(self):
        super().__init__()
        self.recorded: list[str] = []

    def compose(self) -> ComposeResult:
        yield ComputationalGraph()

    def on_mount(self) -> None:
        self.query_one(ComputationalGraph).focus()

    def action_record(self, key: str) -> None:
        self.recorded.append(key)


def text(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def edge(app, label: str) -> tuple[str, str]:
    """(forward value, gradient) of the input edge `label`, or of the output edge when it is the output's."""
    lines = text(app, "#graph-drawing").splitlines()
    for r, line in enumerate(lines):
        if line.startswith(label + " ") or line.endswith("▶ " + label):
            numbers = list(NUMBER.finditer(line + " "))
            value = numbers[0] if line.startswith(label + " ") else numbers[-1]
            return value.group(), lines[r + 1][value.start():].split()[0]
    raise AssertionError(f"no edge {label!r} in\n" + "\n".join(lines))


async def enter(pilot, field: str, value: str) -> None:
    """Type `value` into a field key by key, press Enter, then Esc back to the graph's keys."""
    box = pilot.app.query_one(f"#graph-input-{field}", Input)
    box.focus()
    box.value = ""
    await pilot.press(*value, "enter", "escape")


def note(app, field: str) -> tuple[str, bool]:
    widget = app.query_one(f"#graph-note-{field}", Static)
    return str(widget.render()), widget.has_class("error") and widget.display


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_the_backward_pass_shows_the_seeds_numbers(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        assert edge(app, "price") == ("330", "1")
        assert edge(app, "apple price") == ("100", "?")
        await pilot.press("a")
        assert edge(app, "price") == ("330", "1")
        assert edge(app, "apple price") == ("100", "3.3")
        assert edge(app, "apple count") == ("3", "110")
        assert edge(app, "tax") == ("1.1", "300")
        on_screen = screen_text(app)
        for shown in ("330", "3.3", "110", "300", "backward 2/2 nodes"):
            assert shown in on_screen


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_a_new_input_recomputes_through_the_layers(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("a")
        await enter(pilot, "apple_num", "4")
        assert edge(app, "price") == ("440", "1")
        assert edge(app, "apple price") == ("100", "4.4")
        assert edge(app, "apple count") == ("4", "110")
        assert edge(app, "tax") == ("1.1", "400")
        assert note(app, "apple_num") == ("", False)
        assert app.focused is app.query_one(ComputationalGraph)  # Esc came back to the keys
        assert app.recorded == []  # ... and did not reach the app


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_a_bad_value_shows_an_error_and_changes_nothing(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("a")
        drawing = text(app, "#graph-drawing")
        for field, typed, message in [
            ("apple_num", "abc", "not a number: 'abc'"), ("apple_num", "nan", "must be finite, not nan"),
            ("tax", "", "enter a number"), ("apple", "1e308", "overflow: apples = inf"),
        ]:
            await enter(pilot, field, typed)
            assert note(app, field) == (message, True)
            assert app.screen.region.contains_region(app.query_one(f"#graph-note-{field}").region)
            assert app.query_one(f"#graph-input-{field}", Input).value == typed  # left for the user to fix
            assert text(app, "#graph-drawing") == drawing
        await enter(pilot, "apple", "200")
        assert note(app, "apple") == ("", False)
        assert edge(app, "price") == ("660", "1")


@run_async
async def test_the_step_key_reveals_gradients_one_node_at_a_time():
    app = GraphApp()
    async with app.run_test(size=(80, 24)) as pilot:
        assert "backward 0/2 nodes" in text(app, "#graph-heading")
        assert "press b" in text(app, "#graph-step")
        await pilot.press("b")  # the tax node
        assert "backward 1/2 nodes" in text(app, "#graph-heading")
        assert edge(app, "tax") == ("1.1", "300")
        assert edge(app, "apple price") == ("100", "?") and edge(app, "apple count") == ("3", "?")
        assert text(app, "#graph-step") == "× swaps: d apples = 1 × 1.1 = 1.1 · d tax = 1 × 300 = 300"
        assert highlighted_box(app) == "× (row 5)"
        await pilot.press("b")  # the apples node
        assert edge(app, "apple price") == ("100", "3.3") and edge(app, "apple count") == ("3", "110")
        assert text(app, "#graph-step") == \
            "× swaps: d apple price = 1.1 × 3 = 3.3 · d apple count = 1.1 × 100 = 110"
        assert highlighted_box(app) == "× (row 3)"
        await pilot.press("b")  # nothing is left: it stays at the end
        assert "backward 2/2 nodes" in text(app, "#graph-heading")
        await pilot.press("z")
        assert "backward 0/2 nodes" in text(app, "#graph-heading")
        assert [edge(app, label)[1] for label in ("apple price", "apple count", "tax", "price")] == ["?", "?", "?", "1"]
        assert highlighted_box(app) is None


def highlighted_box(app) -> str | None:
    """The operator and middle row (from 1) of the box with a background: the node just stepped, if any."""
    drawing = app.query_one("#graph-drawing", Static).render()
    plain = drawing.plain
    for span in drawing.spans:
        if plain[span.start:span.end].startswith("┤") and span.style.background is not None:
            return f"{plain[span.start + 2]} (row {plain[:span.start].count(chr(10)) + 1})"
    return None


@run_async
async def test_apples_and_oranges_as_the_book():
    app = GraphApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await enter(pilot, "apple_num", "4")
        await pilot.press("v")
        assert app.query_one("#graph-field-orange").display
        assert app.query_one("#graph-input-apple_num", Input).value == "2"
        assert edge(app, "price") == ("715", "1")
        await pilot.press("b", "b")
        assert text(app, "#graph-step") == "+ passes it on: d apples = 1.1 · d oranges = 1.1"
        assert highlighted_box(app) == "+ (row 7)"
        await pilot.press("a")
        assert [edge(app, label) for label in ("apple price", "apple count", "orange price", "orange count", "tax")] \
            == [("100", "2.2"), ("2", "110"), ("150", "3.3"), ("3", "165"), ("1.1", "650")]
        on_screen = screen_text(app)
        for shown in ("715", "2.2", "165", "650", "orange count"):
            assert shown in on_screen
        await pilot.press("v", "v")  # past the third example, back to the apples, as they were left, not yet taken
        assert not app.query_one("#graph-field-orange").display
        assert app.query_one("#graph-input-apple_num", Input).value == "4"
        assert edge(app, "price") == ("440", "1") and edge(app, "tax") == ("1.1", "?")


@pytest.mark.parametrize("example_keys", [(), ("v",), ("v", "v")])
@run_async
async def test_the_view_fits_the_graph_tab_of_an_80x24_terminal(example_keys):
    app = GraphApp()
    # 80x24 less the app's status line, tabs and footer.
    async with app.run_test(size=(80, 17)) as pilot:
        await pilot.press(*example_keys, "a")
        graph = app.query_one(ComputationalGraph)
        assert app.query_one("#graph-drawing").region.right <= graph.content_region.right
        assert graph.max_scroll_x == graph.max_scroll_y == 0


@run_async
async def test_keys_typed_into_an_input_are_text_and_other_keys_reach_the_app():
    app = GraphApp()
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.query_one("#graph-input-tax", Input)
        box.focus()
        box.value = ""
        await pilot.press("b", "a", "z", "v")
        assert box.value == "bazv"
        assert "backward 0/2 nodes" in text(app, "#graph-heading")
        await pilot.press("escape")
        assert app.recorded == []
        await pilot.press("escape", "down")  # the graph has focus and nothing to scroll
        assert app.recorded == ["escape", "down"]


def test_help_lists_every_key_and_says_which_shadow_the_apps():
    keys = {key for key, _ in HELP}
    assert keys == {"b", "a", "z", "v", "o", "p", "escape"}
    app_keys = {key.strip() for binding in BackpropApp.BINDINGS for key in binding.key.split(",")}
    # Esc only acts from one of the widget's inputs; otherwise it is the app's. o and p are the app's too
    # (runs, previous page), shadowed while the graph has focus: their help says so.
    assert (keys - {"escape"}) & app_keys == {"o", "p"}
    assert all(description.endswith("(the graph)") for key, description in HELP if key != "escape")


# ---- a value used twice, the naive order, predict mode ---------------------------------------------------

async def to_reused(pilot) -> None:
    await pilot.press("v", "v")
    assert "One value used twice" in text(pilot.app, "#graph-heading")


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_a_value_used_twice_adds_up_both_paths(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        await to_reused(pilot)
        assert app.query_one("#graph-field-a").display and not app.query_one("#graph-field-apple").display
        assert edge(app, "a") == ("3", "?") and edge(app, "c") == ("36", "1")
        drawing = text(app, "#graph-drawing")
        assert drawing.count("┬") == 2 and drawing.count("└") == 2  # a and b each fork into their node
        await pilot.press("b")
        assert text(app, "#graph-step") == "× uses b twice, each use gets 1 × the other b: d b = 6 + 6 = 12"
        assert highlighted_box(app) == "× (row 5)"
        await pilot.press("b")
        assert text(app, "#graph-step") == "+ uses a twice and passes 12 back along each: d a = 12 + 12 = 24"
        assert edge(app, "a") == ("3", "24")
        assert "backward 2/2 nodes · in red: d c / d edge" in text(app, "#graph-heading")
        for shown in ("36", "24", "12 + 12 = 24"):
            assert shown in screen_text(app)
        await enter(pilot, "a", "-1.5")  # c = 4a², dc/da = 8a
        assert edge(app, "a") == ("-1.5", "-12") and edge(app, "c") == ("9", "1")


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_the_naive_order_marks_what_it_gets_wrong(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        await to_reused(pilot)
        await pilot.press("o", "a")
        assert "naive order" in text(app, "#graph-heading")
        assert edge(app, "a") == ("3", "12✗")  # not 24
        assert "(reverse topological order)" in text(app, "#graph-order")
        assert text(app, "#graph-step").startswith("✗ too early: + ran with d b = 6, not 12")
        assert "12✗" in screen_text(app)
        await pilot.press("o")  # back to the right order, where it was
        assert edge(app, "a") == ("3", "24") and "✗" not in text(app, "#graph-drawing")
        assert not app.query_one("#graph-order").display
        await pilot.press("v", "o")  # apples: every value is used once, so the naive order is right
        await pilot.press("a")
        assert edge(app, "apple price") == ("100", "3.3")
        assert "nothing goes wrong" in text(app, "#graph-order")


async def answer(pilot, typed: str) -> None:
    assert pilot.app.focused is pilot.app.query_one("#graph-answer", Input)
    await pilot.press(*typed, "enter")


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_predict_mode_checks_each_guess_before_it_is_shown(size):
    app = GraphApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("p", "b")  # the tax node: asks for d apples, then d tax
        assert "predicting" in text(app, "#graph-heading")
        assert "Predict d apples" in str(app.query_one("#graph-question").render())
        assert edge(app, "tax") == ("1.1", "?")  # not shown before it is guessed
        await answer(pilot, "1.1000001")  # within the tolerance
        assert "Predict d tax" in str(app.query_one("#graph-question").render())
        await answer(pilot, "301")  # outside it
        assert text(app, "#graph-verdict") == "✓ d apples: you typed 1.1000001, right · ✗ d tax: you typed 301, it is 300"
        assert edge(app, "tax") == ("1.1", "300") and "backward 1/2 nodes" in text(app, "#graph-heading")
        assert app.focused is app.query_one(ComputationalGraph)
        assert not app.query_one("#graph-predict").display


@run_async
async def test_predict_mode_keeps_the_learners_place():
    app = GraphApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_reused(pilot)
        await pilot.press("p", "b")
        await answer(pilot, "twelve")
        assert text(app, "#graph-verdict") == "not a number: 'twelve'"
        assert "Predict d b" in str(app.query_one("#graph-question").render())  # asked again
        await pilot.press("escape")  # away from the question, the step not taken
        assert app.focused is app.query_one(ComputationalGraph) and app.recorded == []
        assert "backward 0/2 nodes" in text(app, "#graph-heading")
        await pilot.press("b")  # the same question again
        box = app.query_one("#graph-answer", Input)
        box.value = ""
        await answer(pilot, "12")
        assert text(app, "#graph-verdict") == "✓ d b: you typed 12, right"
        await pilot.press("b")
        await answer(pilot, "12")  # the one path, not the sum of both
        assert text(app, "#graph-verdict") == "✗ d a: you typed 12, it is 24"
        assert edge(app, "a") == ("3", "24")
        await pilot.press("p", "z", "b")  # predict mode off: b steps again
        assert "backward 1/2 nodes" in text(app, "#graph-heading") and not app.query_one("#graph-predict").display
