"""`python -m tui --view LOGDIR`: a folder of TensorBoard event files, read-only and live (no training)."""
from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .screens.tensorboard_screen import TensorBoardScreen


class ViewApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "backprop-tui: TensorBoard log"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, logdir: str | Path, ascii: bool = False):
        super().__init__()
        self.logdir, self.ascii = Path(logdir), ascii

    def on_mount(self) -> None:
        self.push_screen(TensorBoardScreen(self.logdir, closable=False, ascii=self.ascii))
