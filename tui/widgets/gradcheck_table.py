"""One row per parameter tensor: backprop against central differences, updated in place.

The iteration the check ran at is said once, in the heading above (tui/panes/monitor.py), not on every
row: a sampled tensor's count ("50,000/78,400") needs that room at 80 columns."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from engine.gradcheck import GradCheckRow

COLUMNS = ("param", "shape", "count", "mean|diff|", "max|diff|", "max rel", "kinks", "result")


class GradCheckTable(DataTable):
    can_focus = False

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, rows: tuple[GradCheckRow, ...]) -> None:
        names = [r.name for r in rows]
        if [str(k.value) for k in self.rows] != names:  # a new architecture: rebuild the fixed rows
            self.clear()
            for name in names:
                self.add_row(*[""] * len(COLUMNS), key=name)
        for row in rows:
            for column, value in zip(COLUMNS, cells(row)):
                self.update_cell(row.name, column, value, update_width=True)


def cells(row: GradCheckRow) -> list:
    count = f"{row.count:,}" if row.checked == row.count else f"{row.checked:,}/{row.count:,}"
    result = Text("pass", style="bold green") if row.passed else Text("FAIL", style="bold red")
    return [
        Text(row.name), "x".join(map(str, row.shape)), count, f"{row.mean_abs_diff:.2e}",  # a name from a log: not markup
        f"{row.max_abs_diff:.2e}", f"{row.max_rel_error:.1e}", str(row.kinks), result,
    ]
