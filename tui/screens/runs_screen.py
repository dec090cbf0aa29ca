"""The run browser: every run under the runs root, one run's curves, or two runs' overlaid."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.records import plain
from engine.run_index import RunRecord, list_runs

from ..widgets.run_curves import RunCurves

COLUMNS = {"mark": "#", "started": "UTC start", "network": "data, network", "settings": "settings",
           "iterations": "iters", "best": "best acc", "state": "state"}  # fits 80 columns


class RunsScreen(Screen):
    BINDINGS = [
        Binding("escape,o", "close", "Back"),
        Binding("space", "mark", "Mark to compare"),
    ]

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root)
        self.runs: list[RunRecord] = []
        self.marked: list[RunRecord] = []  # at most two: their curves are overlaid

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Runs in {self.root}: reading…"), id="runs-title")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-curves"):
            yield RunCurves("loss", id="runs-loss")
            yield RunCurves("accuracy", id="runs-accuracy")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS.items():
            table.add_column(label, key=key)
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        """Read the logs off the UI thread: long runs have megabytes of them."""
        try:
            runs = list_runs(self.root)
        except OSError as exc:  # an unreadable runs folder (a damaged run only shows as "unreadable")
            self.app.call_from_thread(self.query_one("#runs-title", Static).update,
                                      Text(plain(f"Cannot list {self.root}: {exc.strerror or exc}")))
            return
        self.app.call_from_thread(self.show_runs, runs)

    def show_runs(self, runs: list[RunRecord]) -> None:
        self.runs = runs
        table = self.query_one(DataTable)
        table.clear()
        for run in runs:
            best = f"{run.best_test_acc:.2%}" if run.best_test_acc is not None else "-"
            state = f"{run.state}, {run.damaged:,} damaged records skipped" if run.damaged else run.state
            # Text, not markup: names and settings come from files anyone may have written.
            table.add_row("", run.started.strftime("%m-%d %H:%M"), Text(f"{run.dataset} {run.architecture}"),
                          Text(run.settings), f"{run.iteration:,}", best, state, key=run.name)
        title = self.query_one("#runs-title", Static)
        if runs:
            title.update(Text(f"{len(runs)} runs in {self.root} · space: mark two to overlay · esc: back"))
            table.focus()
            self.show_curves([runs[0]])
        else:
            title.update(Text(f"No runs in {self.root} yet: each training run started here or with "
                              "python -m engine train --runs-dir writes one."))

    def highlighted(self) -> RunRecord | None:
        table = self.query_one(DataTable)
        return self.runs[table.cursor_row] if self.runs and 0 <= table.cursor_row < len(self.runs) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not self.marked and (run := self.highlighted()):
            self.show_curves([run])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: this run's curves alone (the marks are dropped)."""
        if run := self.highlighted():
            self.marked.clear()
            self.show_marks()
            self.show_curves([run])

    def action_mark(self) -> None:
        run = self.highlighted()
        if run is None:
            return
        if run in self.marked:
            self.marked.remove(run)
        else:
            self.marked = (self.marked + [run])[-2:]
        self.show_marks()
        self.show_curves(self.marked or [run])

    def show_marks(self) -> None:
        table = self.query_one(DataTable)
        for run in self.runs:
            mark = str(self.marked.index(run) + 1) if run in self.marked else ""
            table.update_cell(run.name, "mark", mark)

    def show_curves(self, runs: list[RunRecord]) -> None:
        for plot in self.query(RunCurves):
            plot.show(runs)

    def action_close(self) -> None:
        self.app.pop_screen()
