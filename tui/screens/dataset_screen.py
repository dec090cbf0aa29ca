"""Shown when the dataset cannot be had: what went wrong and how to get the data."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

HOW_TO = """\
How to get the data:

  • With internet access: press [b]r[/b] to try the download again, or run
      python -m engine data fetch {dataset}
  • Offline (an air-gapped server): copy the four files
      train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
      t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
    from a machine that has them into a folder here, then start
      python -m tui --dataset {dataset} --data-dir FOLDER
"""


class DatasetScreen(Screen):
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, dataset: str, message: str):
        super().__init__()
        self.dataset, self.message = dataset, message

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dataset-body"):
            yield Static(f"[b red]{self.dataset} is not available[/b red]\n", id="dataset-title")
            # The loader's own how-to is for the command line; HOW_TO below says it for this app.
            yield Static(self.message.split("\nTo supply the files by hand")[0], id="dataset-message", markup=False)
            yield Static(HOW_TO.format(dataset=self.dataset), id="dataset-howto")
        yield Footer()

    def action_retry(self) -> None:
        self.dismiss(True)
