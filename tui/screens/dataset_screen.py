"""Shown when the dataset cannot be had: what went wrong, how to get the data, and the ways out.

It dismisses with RETRY, a tab to show (another dataset is chosen on the Settings tab), or None (Esc).
"""
from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine.records import plain

from .help_screen import key_label

RETRY = "retry"
TABS = ("monitor", "digits", "settings", "errors", "layers", "graph")  # the app's tab keys 1-6

HOW_TO = """\
How to get the data:

  • With internet access: press [b]r[/b] to try the download again, or run
      python -m engine data fetch {dataset}
  • Offline (an air-gapped server): copy the four files
      train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
      t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
    from a machine that has them into a folder here, then start
      python -m tui --dataset {dataset} --data-dir FOLDER
  • Or train on another dataset: press [b]3[/b] for Settings, choose it, then [b]r[/b] to reset.
"""


class DatasetScreen(Screen[str | None]):
    # The tab keys leave this screen for their tab: behind it the app's own would switch tabs unseen.
    BINDINGS = [
        Binding("r", "close('retry')", "Retry"),
        Binding("3", "close('settings')", "Settings: choose another dataset"),
        Binding("escape", "close", "Back"),
        *(Binding(str(n), f"close('{tab}')", f"{tab.title()} tab", show=False)
          for n, tab in enumerate(TABS, 1) if tab != "settings"),
    ]

    def __init__(self, dataset: str, message: str):
        super().__init__()
        self.dataset, self.message = dataset, message

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dataset-body"):
            yield Static(f"[b red]{self.dataset} is not available[/b red]\n", id="dataset-title")
            # The loader's own how-to is for the command line; HOW_TO below says it for this app.
            yield Static(plain(self.message.split("\nTo supply the files by hand")[0]), id="dataset-message",
                         markup=False)  # it quotes file names
            yield Static(HOW_TO.format(dataset=self.dataset), id="dataset-howto")
        yield Footer()

    def action_close(self, choice: str | None = None) -> None:
        self.dismiss(choice)

    def system_commands(self) -> Iterable[SystemCommand]:
        """This screen's keys for the command palette (the app's own wait while it is shown)."""
        for binding in self.BINDINGS:
            if binding.show:
                yield SystemCommand(binding.description, f"key: {key_label(binding.key)}",
                                    lambda action=binding.action: self.run_action(action))
