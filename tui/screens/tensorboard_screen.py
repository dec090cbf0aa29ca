"""A folder of TensorBoard event files, read-only and live: its scalar tags listed, the highlighted one drawn
with every run that logs it overlaid.

A thread follows the files (engine.tensorboard_log) and leaves what it reads in a deque; the screen
drains it ten times a second and redraws the plot at most every REDRAW_EVERY seconds, as the monitor does
with a training run's events. Tags and run names come from files anyone may have written: shown as
plain text (control characters replaced), never as markup.
"""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine.records import plain
from engine.tensorboard_log import TensorBoardLog

from ..scalars import MAX_SERIES, ScalarsState
from ..widgets.scalar_plot import ScalarPlot

POLL_EVERY = 0.25  # seconds between looks at the files: a new event shows within about a second
DRAIN_EVERY = 0.1
DRAIN_POINTS = 20_000  # folded in per drain: about 50 ms of the UI thread's time
REDRAW_EVERY = 0.5  # the plot at most this often (a plotext frame costs 20-90 ms)


def tag_label(tag: str, runs: list) -> Text:
    """A tag's line in the list: the tag, and its last value (one run) or how many runs log it."""
    if len(runs) == 1:
        series = runs[0][1]
        return Text.assemble(tag, (f"  {series.last_value:.4g} @ {series.last_step:,}", "dim"))
    return Text.assemble(tag, (f"  {len(runs)} runs", "dim"))


class TensorBoardScreen(Screen):
    BINDINGS = [
        Binding("l", "log_scale", "Log scale"),
        Binding("t", "smoothing", "EMA"),
        Binding("escape", "close", "Back", show=False),
    ]

    def __init__(self, logdir: str | Path, closable: bool = True, ascii: bool = False):
        """`closable`: escape goes back to the screen below (the run browser); the viewer app has none.
        `ascii`: the plot in ASCII characters only (--ascii)."""
        super().__init__()
        self.logdir = Path(logdir)
        self.closable, self.ascii = closable, ascii
        self.events = TensorBoardLog(self.logdir)
        self.state = ScalarsState()
        self.inbox: deque = deque()  # (points, problems, caught up, (bytes read, bytes)) from the reading thread
        self.news = ""  # what the reader last said about the files: damaged records, unreadable files
        self.stale = False
        self.drawn_at = 0.0
        self.tag_names: list[str] = []  # the list's tags, in its order
        self.caught_up, self.progress = False, (0, 0)  # as the reading thread last said
        self.shown_text: dict[str, str] = {}  # the title's and problems line's words on the screen
        self.log_scale: dict[str, bool] = {}  # by tag, once toggled; else on for tags with "loss" in them

    def compose(self) -> ComposeResult:
        yield Static(Text(f"TensorBoard log {self.logdir}: reading…"), id="tb-title")
        with Horizontal(id="tb-body"):
            yield OptionList(id="tb-tags")
            yield ScalarPlot(self.state, ascii=self.ascii, id="tb-plot")
        yield Static(id="tb-news")
        yield Footer()

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(DRAIN_EVERY, self.drain)
        self.query_one(OptionList).focus()

    @work(thread=True, exclusive=True, group="tensorboard")
    def follow(self) -> None:
        """Read the files as they grow, until the screen closes (the worker is cancelled with it)."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            points = self.events.poll()
            self.inbox.append((points, plain(" · ".join(self.events.problems())), self.events.caught_up,
                               self.events.progress()))
            if self.events.caught_up:
                time.sleep(POLL_EVERY)

    def drain(self) -> None:
        """Fold in what the thread read, at most DRAIN_POINTS per tick: catching up on a long log, keys
        still answer between ticks (the rest waits in the inbox)."""
        changed, budget = set(), DRAIN_POINTS
        while self.inbox and budget > 0:
            points, *said = self.inbox.popleft()
            if len(points) > budget:
                self.inbox.appendleft((points[budget:], *said))
                points, said[1] = points[:budget], False  # not caught up while points wait
            self.news, self.caught_up, self.progress = said
            changed |= self.state.apply(points)
            budget -= len(points)
        if changed:
            self.update_tags(changed)
        self.update_title()
        if self.stale and time.monotonic() - self.drawn_at >= REDRAW_EVERY:
            self.draw()

    def update_tags(self, changed: set[str]) -> None:
        tags = self.state.tags()
        options = self.query_one(OptionList)
        plot = self.query_one(ScalarPlot)
        if options.option_count != len(tags):  # a new tag: the list again, the highlight kept on its tag
            highlighted = plot.tag
            options.clear_options()
            options.add_options([Option(tag_label(tag, self.state.of(tag)), id=str(i)) for i, tag in enumerate(tags)])
            self.tag_names = tags
            wanted = highlighted if highlighted in tags else next((t for t in tags if "loss" in t.lower()), tags[0])
            options.highlighted = tags.index(wanted)
        else:
            for tag in changed:
                options.replace_option_prompt_at_index(self.tag_names.index(tag), tag_label(tag, self.state.of(tag)))
        self.stale |= plot.tag in changed

    def update_title(self) -> None:
        """The title and the problems line, sent to the terminal only when their words change."""
        read, size = self.progress
        doing = "read-only, following" if self.caught_up else f"reading: {read / 1e6:,.1f} of {size / 1e6:,.1f} MB"
        if not self.state.series:
            waiting = "no scalars yet" if size else "no event files (*tfevents*) yet"
            title = f"TensorBoard log {self.logdir}: {waiting} · {doing}"
        else:
            runs = self.state.runs()
            title = (f"TensorBoard log {self.logdir} · {len(runs)} run{'s' * (len(runs) > 1)} · "
                     f"{len(self.state.tags())} scalar tags · {doing}")
        dropped = [f"{self.state.dropped:,} points of series past the first {MAX_SERIES} (run, tag) pairs not kept"] \
            if self.state.dropped else []
        for name, text in (("#tb-title", plain(title)), ("#tb-news", " · ".join(filter(None, [self.news, *dropped])))):
            if self.shown_text.get(name) != text:
                self.shown_text[name] = text
                self.query_one(name, Static).update(Text(text))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        plot = self.query_one(ScalarPlot)
        plot.tag = self.tag_names[event.option_index]
        plot.log_scale = self.log_scale.get(plot.tag, "loss" in plot.tag.lower())
        self.draw()

    def draw(self) -> None:
        self.stale, self.drawn_at = False, time.monotonic()
        self.query_one(ScalarPlot).redraw()

    def action_log_scale(self) -> None:
        plot = self.query_one(ScalarPlot)
        if plot.tag is not None:
            plot.log_scale = self.log_scale[plot.tag] = not plot.log_scale
            self.draw()

    def action_smoothing(self) -> None:
        plot = self.query_one(ScalarPlot)
        plot.smoothing = not plot.smoothing
        self.draw()

    def action_close(self) -> None:
        if self.closable:
            self.app.pop_screen()
