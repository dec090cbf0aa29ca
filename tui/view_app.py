"""`python -m tui --view LOGDIR`: a folder of TensorBoard event files, read-only and live (no training)."""
from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .screens.help_screen import HelpScreen
from .screens.tensorboard_screen import TensorBoardScreen


class ViewApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "backprop-tui: TensorBoard log"
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Help")]
    KEYS = [("up,down", "Choose a tag: its curve, each run that logs it overlaid"),
            ("l", "Log scale (toggle; on at first for tags with \"loss\" in them)"),
            ("t", "EMA line (toggle): the monitor's bias-corrected smoothing"),
            ("q", "Quit")]

    def __init__(self, logdir: str | Path, ascii: bool = False):
        super().__init__()
        self.logdir, self.ascii = Path(logdir), ascii

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.KEYS))

    def on_mount(self) -> None:
        self.push_screen(TensorBoardScreen(self.logdir, closable=False, ascii=self.ascii))
