"""The run browser: every run under the runs root, one run's curves, or two runs' overlaid; a running run's
row and curves follow it while the browser is open."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from engine.records import plain
from engine.run_index import RunRecord, list_runs, load_curves, refresh

from ..widgets.run_curves import RunCurves
from .tensorboard_screen import TensorBoardScreen

COLUMNS = {"mark": "#", "started": "UTC start", "network": "data, network", "settings": "settings",
           "iterations": "iters", "best": "best acc", "state": "state"}  # fits 80 columns
POLL_EVERY = 1.5  # seconds between looks for news of the listed runs (a stat of each one's summary file)


def row_cells(run: RunRecord) -> dict[str, str | Text]:
    """The run's cells but its mark, by column. Text, not markup: names and settings come from files
    anyone may have written."""
    best = f"{run.best_test_acc:.2%}" if run.best_test_acc is not None else "-"
    notes = [f"{run.damaged:,} damaged records skipped"] if run.damaged else []
    notes += ["summary damaged"] if run.summary_problem else []
    return {"started": run.started.strftime("%m-%d %H:%M"), "network": Text(f"{run.dataset} {run.architecture}"),
            "settings": Text(run.settings), "iterations": f"{run.iteration:,}", "best": best,
            "state": ", ".join([run.state, *notes])}


class RunsScreen(Screen):
    BINDINGS = [
        Binding("escape,o", "close", "Back"),
        Binding("space", "mark", "Mark to compare"),
        Binding("v", "tensorboard", "TensorBoard logs here"),
    ]

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root)
        self.runs: list[RunRecord] = []
        self.rows: dict[str, int] = {}  # each run's place in `runs`, by name
        self.marked: list[str] = []  # the names of at most two runs: their curves are overlaid
        self.shown: list[str] = []  # the names of the runs whose curves are drawn (only theirs are kept)
        self.polling = False  # a look for news is under way

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
        self.set_interval(POLL_EVERY, self.poll)

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        """List the runs off the UI thread: runs without a summary are read from their logs."""
        try:
            runs = list_runs(self.root)
        except OSError as exc:  # an unreadable runs folder (a damaged run only shows as "unreadable")
            self.app.call_from_thread(self.query_one("#runs-title", Static).update,
                                      Text(plain(f"Cannot list {self.root}: {exc.strerror or exc}")))
            return
        self.app.call_from_thread(self.show_runs, runs)

    def show_runs(self, runs: list[RunRecord]) -> None:
        self.runs, self.rows = runs, {run.name: i for i, run in enumerate(runs)}
        table = self.query_one(DataTable)
        table.clear()
        for run in runs:
            table.add_row("", *row_cells(run).values(), key=run.name)
        title = self.query_one("#runs-title", Static)
        if runs:
            title.update(Text(f"{len(runs)} runs in {self.root} · space: mark two to overlay · "
                              "v: TensorBoard logs · esc: back"))
            table.focus()
            self.show_curves([runs[0].name])
        else:
            title.update(Text(f"No runs in {self.root} yet: each training run started here or with "
                              "python -m engine train --runs-dir writes one."))

    def poll(self) -> None:
        if self.runs and not self.polling:
            self.polling = True
            self.look_for_news(list(self.runs))

    @work(thread=True, group="poll")
    def look_for_news(self, runs: list[RunRecord]) -> None:
        fresh: list[RunRecord] = []
        try:
            fresh = refresh(runs)
        finally:
            self.app.call_from_thread(self.update_runs, fresh)

    def update_runs(self, fresh: list[RunRecord]) -> None:
        """Put the runs read again in place of their rows: only the cells that changed are redrawn, and the
        curves of a shown run that changed once its new ones are read."""
        self.polling = False
        if not self.is_attached:  # closed meanwhile
            return
        table = self.query_one(DataTable)
        for run in fresh:
            old = self.runs[self.rows[run.name]]
            self.runs[self.rows[run.name]] = run
            before = row_cells(old)
            for column, cell in row_cells(run).items():
                if cell != before[column]:
                    table.update_cell(run.name, column, cell)
        if shown := [run for run in fresh if run.name in self.shown]:  # the plots draw the old ones meanwhile
            self.show_curves(self.shown, draw=any(run.curves is not None for run in shown))  # (read from its log)

    def highlighted(self) -> RunRecord | None:
        table = self.query_one(DataTable)
        return self.runs[table.cursor_row] if self.runs and 0 <= table.cursor_row < len(self.runs) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not self.marked and (run := self.highlighted()):
            self.show_curves([run.name])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: this run's curves alone (the marks are dropped)."""
        if run := self.highlighted():
            self.marked.clear()
            self.show_marks()
            self.show_curves([run.name])

    def action_mark(self) -> None:
        run = self.highlighted()
        if run is None:
            return
        if run.name in self.marked:
            self.marked.remove(run.name)
        else:
            self.marked = (self.marked + [run.name])[-2:]
        self.show_marks()
        self.show_curves(self.marked or [run.name])

    def show_marks(self) -> None:
        table = self.query_one(DataTable)
        for run in self.runs:
            mark = str(self.marked.index(run.name) + 1) if run.name in self.marked else ""
            table.update_cell(run.name, "mark", mark)

    def show_curves(self, names: list[str], draw: bool = True) -> None:
        """Show these runs' curves: those not read yet are read in a thread and drawn when they come; the
        other runs' curves are let go (a summary gives them back in milliseconds)."""
        self.shown = names
        for run in self.runs:
            if run.name not in names:
                run.curves = None
        runs = [self.runs[self.rows[name]] for name in names]
        if wanted := [run for run in runs if run.curves is None]:
            self.read_curves(wanted)
        if draw:
            for plot in self.query(RunCurves):
                plot.show(runs)

    @work(thread=True, exclusive=True, group="curves")
    def read_curves(self, runs: list[RunRecord]) -> None:
        loaded = [(run.name, *load_curves(run)) for run in runs]
        if not get_current_worker().is_cancelled:  # else other runs are shown now: a newer read has them
            self.app.call_from_thread(self.curves_read, loaded)

    def curves_read(self, loaded: list[tuple]) -> None:
        if not self.is_attached:
            return
        for name, curves, problem in loaded:
            if name not in self.shown:
                continue
            run = self.runs[self.rows[name]]
            run.curves = curves
            if problem and not run.summary_problem:
                run.summary_problem = problem
                self.query_one(DataTable).update_cell(name, "state", row_cells(run)["state"])
        self.show_curves(self.shown)

    def action_tensorboard(self) -> None:
        """The TensorBoard event files under the runs folder (engine export --tensorboard writes them into a
        run; PyTorch's SummaryWriter writes into ./runs too), read-only and live; esc comes back."""
        self.app.push_screen(TensorBoardScreen(self.root, ascii=self.app.ui.ascii))

    def action_close(self) -> None:
        self.app.pop_screen()
