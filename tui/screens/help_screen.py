"""Every key binding, generated from the bindings themselves so the list cannot drift."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {
    "space": "space", "left_square_bracket": "[", "right_square_bracket": "]", "question_mark": "?",
    "left": "←", "right": "→", "up": "↑", "down": "↓", "pagedown": "PgDn", "pageup": "PgUp",
    "escape": "Esc", "ctrl+p": "ctrl+p",
}


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help")]

    def __init__(self, entries: list[tuple[str, str]]):
        """entries: (keys as in a Binding, what they do) for every binding of the app."""
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        table = Table(title="backprop-tui keys", expand=True, show_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("what it does")
        for keys, description in self.entries:
            table.add_row(key_label(keys), description)
        table.add_row("ctrl+p", "Command palette: every action above, by name")
        table.add_row("Esc / ? / q", "Close this help")
        with VerticalScroll(id="help-body"):
            yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()  # so ↓ / PgDn scroll it on small terminals
