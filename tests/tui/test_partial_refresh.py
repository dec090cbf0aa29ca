"""Partial refresh (tui/widgets/cell_canvas.py, chops_patch.py): what the terminal is sent is only what changed, and the
screen it builds is cell for cell the screen a full redraw gives, through training, a rescale, the
toggles, a theme change and a resize.

The app runs under Pilot on the scripted trainer; every byte Textual writes is fed to a terminal
emulator (pyte), and compared with a second emulator fed one full redraw of the same moment.
"""
from __future__ import annotations

import asyncio
import dataclasses

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App
from textual.drivers.headless_driver import HeadlessDriver
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tests.fakes import FAKE_CONFIG
from tests.tui.harness import fake_app, press, run_async, running, settle
from tui.options import UiOptions
from tui.widgets.cell_canvas import changed_runs

pyte = pytest.importorskip("pyte", reason="the test extra's terminal emulator: pip install -e '.[test]'")

SIZE = (120, 40)


# ---- the diff, terminal-free ---------------------------------------------------------------------

def line(text: str, style: Style | None = None) -> Strip:
    return Strip([Segment(text, style)])


def test_only_the_runs_of_cells_that_differ_are_sent():
    old = [line("abcdefgh" * 3), line("x" * 24)]
    new = [line("abcdefgh" + "abcdXfgh" + "abcdefgh"), line("x" * 24)]
    assert changed_runs(old, new, 24) == [(0, 12, 13)]
    assert changed_runs(old, old, 24) == []
    assert changed_runs(old, new[:1], 24) == [(0, 0, 24)]  # another size: all of it
    red = [line("abcdefgh" * 3, Style(color="red")), line("x" * 24)]
    assert changed_runs(old, red, 24) == [(0, 0, 24)]  # a style change is a change
    apart = [line("Xbcdefgh" + "abcdefgh" + "abcdefgX"), line("xxxXxxXxxxxxxxxxxxxxxxxx")]
    assert changed_runs(old, apart, 24) == [(0, 0, 1), (0, 23, 24), (1, 3, 7)]  # 2 cells apart: one run


def test_a_blank_whose_only_change_cannot_be_seen_is_not_resent():
    on_black = Style(bgcolor="black")
    old = [line(" " * 8, Style(color="red", bgcolor="black"))]
    assert changed_runs(old, [line(" " * 8, Style(color="green", bold=True, bgcolor="black"))], 8) == []
    assert changed_runs(old, [line(" " * 8, Style(bgcolor="white"))], 8) == [(0, 0, 8)]
    assert changed_runs(old, [line(" " * 8, on_black + Style(underline=True))], 8) == [(0, 0, 8)]


# ---- the terminal ---------------------------------------------------------------------------------

class Terminal:
    """What Textual writes, played on an emulated terminal (pyte)."""

    def __init__(self, size=SIZE):
        self.screen = pyte.Screen(*size)
        self.stream = pyte.Stream(self.screen)
        self.written = 0

    def feed(self, data: str) -> None:
        self.written += len(data.encode())
        self.stream.feed(data)

    def resize(self, size) -> None:
        self.screen.resize(size[1], size[0])

    def cells(self) -> list[list[tuple]]:
        """Every cell as it shows: character, colours and attributes; a blank's foreground does not show."""
        rows = []
        for y in range(self.screen.lines):
            row = []
            for x in range(self.screen.columns):
                c = self.screen.buffer[y][x]
                shown = (c.data, c.bg, c.reverse, c.underscore, c.strikethrough)
                row.append(shown if c.data == " " else shown + (c.fg, c.bold, c.italics))
            rows.append(row)
        return rows


class RecordingDriver(HeadlessDriver):
    """A headless driver whose output the app writes (a headless one is written nothing), to `terminal`."""

    terminal: Terminal

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        self.terminal.feed(data)

    def flush(self) -> None:
        pass


def record(app) -> Terminal:
    """From now on, everything the app writes goes to a terminal that starts with its screen as it is."""
    terminal = Terminal()
    # Private: the compositor's full update is the only way to render the whole screen as bytes.
    terminal.feed(app.screen._compositor.render_update(full=True).render_segments(app.console))
    terminal.written = 0
    RecordingDriver.terminal = terminal
    app._driver.__class__ = RecordingDriver  # private: the app's driver, made to write (Pilot drives the rest)
    return terminal


async def same_screen(pilot, terminal: Terminal) -> None:
    """The terminal as partial refreshes left it is the terminal after a full redraw of every widget."""
    partial = terminal.cells()
    for widget in pilot.app.screen.walk_children(with_self=True):
        widget.refresh()
    await pilot.pause()
    full = terminal.cells()
    differing = [(y, x) for y in range(len(full)) for x in range(len(full[y])) if partial[y][x] != full[y][x]]
    assert not differing, f"{len(differing)} cells differ, first at (row, column) {differing[:5]}"


async def step(pilot, terminal: Terminal, batches: int = 0, keys: tuple[str, ...] = ()) -> int:
    """Press `keys`, then step `batches` (paused, the plots redraw at every one); the bytes the terminal was
    sent for it."""
    before = terminal.written
    await press(pilot, *keys, *["s"] * batches)
    await settle(pilot)
    await pilot.pause()
    return terminal.written - before


@run_async
async def test_the_partially_refreshed_screen_is_the_fully_redrawn_one():
    config = dataclasses.replace(FAKE_CONFIG, iters=400)
    app = fake_app(config, ui=UiOptions(plot_interval=0.0, status_interval=0.1))
    async with running(app, size=SIZE) as pilot:
        await step(pilot, Terminal(), 20)
        terminal = record(app)
        full = len(app.screen._compositor.render_update(full=True).render_segments(app.console).encode())
        steady = []
        for _ in range(6):  # training: the curve grows at its right edge
            steady.append(await step(pilot, terminal, 3))
            await same_screen(pilot, terminal)
        # A few batches cost a small part of a full frame (unless the y axis moved to another decade).
        assert sorted(steady)[len(steady) // 2] < full / 20 and sum(steady) < full, (steady, full)
        app.trainer.next_losses.extend([1e-4] * 5)  # the loss leaves its decades: the y axis rescales
        await step(pilot, terminal, 5)
        await same_screen(pilot, terminal)
        for keys in (("l",), ("t",), ("l",), ("t",)):  # linear, no EMA, log again, EMA again
            await step(pilot, terminal, keys=keys)
            await same_screen(pilot, terminal)
        app.trainer.request_evaluation()  # a new accuracy point
        await step(pilot, terminal, 1)
        await same_screen(pilot, terminal)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await step(pilot, terminal, 1)
        await pilot.pause(0.1)
        await same_screen(pilot, terminal)
        terminal.resize((100, 30))  # (the terminal first, as a real one resizes before the app learns of it)
        await pilot.resize_terminal(100, 30)
        await step(pilot, terminal, 2)
        await pilot.pause(0.1)
        await same_screen(pilot, terminal)
        await step(pilot, terminal, 3)
        await same_screen(pilot, terminal)


class Row(Widget):
    """100 cells, each its own colour: the case where Textual 8 resent a line from the left edge."""

    DEFAULT_CSS = "Row { height: 1; width: 100; }"

    def render_line(self, y: int) -> Strip:
        return Strip([Segment("x", Style(color=f"color({16 + x})")) for x in range(100)], 100)


class OneRow(App):
    def compose(self):
        yield Row()


@pytest.mark.parametrize("column", [0, 50, 99])
def test_refreshing_one_cell_sends_that_cell_wherever_it_is(column):
    async def run():
        app = OneRow()
        async with app.run_test(size=(100, 3)) as pilot:
            terminal = record(app)
            app.query_one(Row).refresh()
            await pilot.pause()  # (the first frame the app writes is a full one)
            terminal.written = 0
            app.query_one(Row).refresh(Region(column, 0, 1, 1))
            await pilot.pause()
            return terminal.written
    written = asyncio.run(run())
    assert 0 < written < 60, written  # a move, a colour, the cell and a reset (Textual 8.2.8 unpatched: up to 1,800)
