"""One row per parameter tensor: backprop against central differences, updated in place.

A canvas (tui/widgets/cell_canvas.py): a new check sends only the cells whose values changed. The
iteration the check ran at is said once, in the heading above (tui/panes/monitor.py), not on every row:
a sampled tensor's count ("50,000/78,400") needs that room at 80 columns."""
from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.color import Color

from engine.gradcheck import GradCheckRow

from .cell_canvas import CellCanvas, text_lines

COLUMNS = ("param", "shape", "count", "mean|diff|", "max|diff|", "max rel", "kinks", "result")


class GradCheckTable(CellCanvas):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.checked: tuple[GradCheckRow, ...] = ()
        self.styles.height = 1

    def show(self, rows: tuple[GradCheckRow, ...]) -> None:
        self.checked = tuple(rows)
        self.styles.height = 1 + len(self.checked)  # the header and a row per tensor
        self.redraw()

    def clear(self) -> None:
        self.show(())

    @property
    def names(self) -> list[str]:
        return [row.name for row in self.checked]

    def get_cell(self, name: str, column: str):
        row = next(row for row in self.checked if row.name == name)
        return cells(row)[COLUMNS.index(column)]

    def frame(self):
        theme = self.app.theme_variables
        panel, surface = (Color.parse(theme.get(name, "#333333")) for name in ("panel", "surface"))
        table = Table(box=None, padding=(0, 1), pad_edge=True, show_edge=False, collapse_padding=True,
                      header_style=Style(bold=True, bgcolor=panel.rich_color),
                      row_styles=["", Style(bgcolor=surface.lighten(0.04).rich_color)])  # zebra stripes
        for name in COLUMNS:
            table.add_column(name, no_wrap=True)
        for row in self.checked:
            table.add_row(*cells(row))
        return text_lines(table, self.app.console, *self.size)


def cells(row: GradCheckRow) -> list:
    count = f"{row.count:,}" if row.checked == row.count else f"{row.checked:,}/{row.count:,}"
    result = Text("pass", style="bold green") if row.passed else Text("FAIL", style="bold red")
    return [
        Text(row.name), "x".join(map(str, row.shape)), count, f"{row.mean_abs_diff:.2e}",  # a name from a log: not markup
        f"{row.max_abs_diff:.2e}", f"{row.max_rel_error:.1e}", kinks(row), result,
    ]


def kinks(row: GradCheckRow) -> Text:
    """How many elements sat at a ReLU kink, and whether each lay between its one-sided slopes."""
    if not row.kinks:
        return Text("0")
    if not row.kink_failures:
        return Text(f"{row.kinks} ok", style="green")
    return Text(f"{row.kinks}: {row.kink_failures} bad", style="bold red")
