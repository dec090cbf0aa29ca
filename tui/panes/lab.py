"""Tab 8: the gradient-check lab. Break backprop on purpose, run the check, read where the error lives.

Each bug of engine/gradcheck_lab.py goes into a float64 copy of the network's parameters (asked for as the
Backprop tab does), never into the training run. ↑/↓ choose a bug, Enter puts it in (or takes it out), g
checks the copy on three digits from the Digits tab, ←/→ choose the tensor whose error map is drawn.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll

from engine.gradcheck import TensorCheck
from engine.gradcheck_lab import BUGS, Bug, LabResult, lab_check
from engine.network import Network

from ..options import UiOptions
from ..state import MonitorState
from ..widgets.array_text import images_grid, labelled_rows, number, scale_note, strip
from ..widgets.gradcheck_table import COLUMNS, cells
from ..widgets.picture import Picture
from ..widgets.weight_images import signed_text
from .digits import DigitsPane
from .pane import Pane

DIGITS = 3  # the check's batch: the book's gradient_check uses 3 samples
WORST = 5  # elements listed under an error map
KEYS_HINT = "↑/↓ bug · Enter put in / take out · g check · ←/→ tensor · PgUp/PgDn scroll"


class LabBody(VerticalScroll):
    """The lab; it has the keys while the tab is shown (they shadow the App's g, arrows and Enter here)."""

    BINDINGS = [
        Binding("up", "choose(-1)", "Lab: the bug above", show=False),
        Binding("down", "choose(1)", "Lab: the bug below", show=False),
        Binding("enter", "toggle", "Lab: put the chosen bug into the copy, or take it out", show=False),
        Binding("g", "check", "Lab: check the copy (with its bug) on three digits", show=False),
        Binding("left", "tensor(-1)", "Lab: the error map of the previous tensor", show=False),
        Binding("right", "tensor(1)", "Lab: the error map of the next tensor", show=False),
    ]

    def __init__(self, pane: LabPane, **kwargs):
        super().__init__(**kwargs)
        self.pane = pane

    def action_choose(self, step: int) -> None:
        self.pane.choose(step)

    def action_toggle(self) -> None:
        self.pane.toggle()

    def action_check(self) -> None:
        self.pane.check()

    def action_tensor(self, step: int) -> None:
        self.pane.next_tensor(step)


class LabPane(Pane):
    def __init__(self, state: MonitorState, digits: DigitsPane, request_parameters: Callable[[], None],
                 ui: UiOptions):
        super().__init__("8 Lab", id="lab")
        self.state = state
        self.digits = digits
        self.request_parameters = request_parameters
        self.ascii = ui.ascii
        self.body = LabBody(self, id="lab-body")
        self.view = Picture(id="lab-view")
        self.map_view = Picture(id="lab-map")  # apart: a move in the menu does not lay out 50 images again
        self.cursor = 0  # the bug the arrows are on (0: no bug)
        self.bug: Bug | None = None  # the bug put in
        self.result: LabResult | None = None
        self.seconds = 0.0
        self.tensor = 0  # the tensor whose error map is drawn
        self.note = ""  # why the last g did nothing, or what the chosen bug needs
        self.clock = time.perf_counter  # what the check's time is read from (a snapshot test stops it)

    def compose(self) -> ComposeResult:
        with self.body:
            yield self.view
            yield self.map_view

    def focus_target(self) -> LabBody:
        return self.body

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        if "parameters" in changed:
            self.draw()  # which bugs fit this network
        return set()  # the Backprop tab follows them too

    def shown(self) -> set[str]:
        self.request_parameters()  # fresh ones for the next check
        self.draw()
        return set()

    def restart(self, state: MonitorState) -> None:
        self.result = None
        self.draw()

    # ---- model ------------------------------------------------------------------------------

    def choose(self, step: int) -> None:
        self.cursor = (self.cursor + step) % (len(BUGS) + 1)
        self.draw(with_map=False)

    def toggle(self) -> None:
        chosen = BUGS[self.cursor - 1] if self.cursor else None
        network = self.network()
        why = chosen.applies_to(network) if chosen is not None and network is not None else None
        if why:
            self.note = f"{chosen.title}: {why}."
        else:
            self.bug, self.note = (None if chosen is self.bug else chosen), ""
            self.result = None  # the table was for the other layers
        self.draw()

    def put_in(self, bug: Bug) -> None:
        """Choose `bug` and put it in (the command palette's way)."""
        self.cursor = BUGS.index(bug) + 1
        self.bug = None
        self.toggle()

    def network(self) -> Network | None:
        p = self.state.parameters
        return None if p is None else Network.from_params(p.sizes, p.activation, p.params, np.float64)

    def check(self) -> None:
        """The gradient check of the copy, with the bug in, on the first three digits shown in Digits."""
        self.request_parameters()  # for the next one: the run may have moved on
        network, chosen = self.network(), self.digits.chosen(DIGITS)
        if network is None or chosen is None:
            self.note = ("No parameters yet: a moment." if network is None else
                         "No digits yet: they appear in Digits (2) after the first evaluation (e, or space).")
        elif chosen.images[0].size != network.sizes[0] or chosen.labels.max() >= network.sizes[-1]:
            self.note = "These digits do not fit the network (another dataset's): evaluate (e) for fresh ones."
        else:
            began = self.clock()
            self.result = lab_check(network, chosen.images, chosen.labels, self.bug)
            self.seconds, self.note = self.clock() - began, ""
            failing = [i for i, c in enumerate(self.result.checks) if not c.row.passed]
            self.tensor = failing[0] if failing else 0
        self.draw()

    def next_tensor(self, step: int) -> None:
        if self.result is not None:
            self.tensor = (self.tensor + step) % len(self.result.checks)
            self.draw()

    # ---- view -------------------------------------------------------------------------------

    def draw(self, with_map: bool = True) -> None:
        """The menu, the table and the hint; with the error map unless only the menu moved."""
        parts: list[RenderableType] = [self.menu()]
        if self.note:
            parts.append(Text(self.note, style="yellow"))
        parts.append(Text(""))
        if self.result is None:
            parts.append(Text("Press g to check the copy" + (f" with “{self.bug.title}”" if self.bug else "")
                              + " on three digits.", style="italic"))
        else:
            parts += [self.heading(), self.table(), self.hint()]
        parts.append(Text(KEYS_HINT, style="dim"))
        self.view.show(Group(*parts))
        if with_map:
            width = max(self.body.size.width - 2, 40)
            self.map_view.show(Text("") if self.result is None else Group(Text(""), self.error_map(width)))

    def menu(self) -> Text:
        network = self.network()
        text = Text("Inject a bug into a copy of the layers (the training run never sees it):\n", style="bold")
        for i, bug in enumerate((None, *BUGS)):
            pointer = ">" if i == self.cursor else " "
            mark = ("[x]" if bug is self.bug else "[ ]") if bug is not None else ("(•)" if self.bug is None else "( )")
            title = "no bug: the project's own layers" if bug is None else bug.title
            missing = bug is not None and network is not None and bug.applies_to(network) is not None
            text.append(f"{pointer} {mark} {title}\n", style="reverse" if i == self.cursor else ("dim" if missing else ""))
        if self.cursor:  # the line the chosen bug breaks, as the book writes it
            text.append("  the book's line: ", style="dim")
            text.append(BUGS[self.cursor - 1].where, style="cyan")
        text.rstrip()
        return text

    def heading(self) -> Text:
        result = self.result
        which = f"with “{result.bug.title}”" if result.bug else "with the correct layers"
        p = self.state.parameters
        return Text(f"check {which}, iteration {p.iteration:,}, {DIGITS} digits, float64 "
                    f"({1000 * self.seconds:.0f} ms)", style="bold")

    def table(self) -> Table:
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        for name in COLUMNS:
            table.add_column(name, no_wrap=True)
        for i, check in enumerate(self.result.checks):
            row = cells(check.row)
            if i == self.tensor:
                row[0] = Text(f"▶{check.name}", style="bold")
            table.add_row(*row, style="" if check.row.passed else "red")
        return table

    def hint(self) -> Text:
        passed = all(c.row.passed for c in self.result.checks)
        return Text(self.result.hint, style="green" if passed else "bold")

    def error_map(self, width: int) -> RenderableType:
        """Where the error of the chosen tensor lives: |backprop - numerical| per element, the worst listed."""
        check = self.result.checks[self.tensor]
        error = np.zeros(int(np.prod(check.shape)))
        error[check.flat] = np.abs(check.backprop - check.numeric)
        error[check.flat[check.kinks]] = 0.0  # at a kink the central difference measures nothing
        shape, sizes = check.shape, self.state.parameters.sizes
        title = Text(f"error map of {check.name} ({'×'.join(map(str, shape))}): |backprop - numerical| "
                     f"(←/→ another tensor)", style="bold")
        grid = error.reshape(shape)
        if len(shape) == 2 and shape[0] == sizes[0] and self.digits.chosen(1) is not None:
            image_shape = self.digits.chosen(1).images.shape[1:]
            biggest = float(grid.max(initial=0))
            pictures = [signed_text(grid[:, j].reshape(image_shape), self.ascii, biggest=biggest)
                        for j in range(shape[1])]
            picture = images_grid(pictures, [f"unit {j + 1}" for j in range(shape[1])], width, image_shape[1] // 2)
        elif len(shape) == 2:
            biggest = float(grid.max(initial=0))
            picture = labelled_rows([strip(row, self.ascii, biggest) for row in grid.T], width,
                                    labels=[f"{check.name}[:, {j}]".ljust(len(f"{check.name}[:, {shape[1] - 1}]"))
                                            for j in range(shape[1])])
        else:
            picture = labelled_rows([strip(grid, self.ascii)], width, labels=[check.name])
        return Group(title, picture, scale_note(grid, self.ascii), self.worst(check))

    def worst(self, check: TensorCheck) -> Text:
        smooth = ~check.kinks
        error = np.abs(check.backprop - check.numeric)
        order = np.argsort(-np.where(smooth, error, -1), kind="stable")[:WORST]
        text = Text("worst elements:", style="dim")
        for i in order:
            index = np.unravel_index(check.flat[i], check.shape)
            text.append(f"\n  {check.name}[{', '.join(map(str, index))}]  backprop {number(float(check.backprop[i]))}"
                        f"  numerical {number(float(check.numeric[i]))}  |diff| {error[i]:.2e}")
        return text
