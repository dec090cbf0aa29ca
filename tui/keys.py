"""The monitor's keys: what each does, what the footer's short labels mean, and which wait for data."""
from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from .screens.confirm_screen import ConfirmScreen
from .screens.dataset_screen import DatasetScreen
from .screens.help_screen import HelpScreen
from .screens.runs_screen import RunsScreen
from .screens.tensorboard_screen import TensorBoardScreen

# The footer shows the first few; the help screen (?) and the command palette list them all.
KEYS = [
    Binding("space", "toggle_run", "Run/pause"),
    Binding("s", "step", "Step"),
    Binding("r", "reset", "Reset"),
    Binding("g", "gradcheck", "Grad check"),
    Binding("left_square_bracket", "lr(0.5)", "lr÷2"),
    Binding("right_square_bracket", "lr(2.0)", "lr×2"),
    Binding("question_mark", "help", "Help"),
    Binding("q", "quit_app", "Quit"),
    Binding("e", "evaluate", "Evaluate now: accuracy and fresh digits", show=False),
    Binding("c", "checkpoint", "Save a checkpoint into the run directory", show=False),
    Binding("x", "export", "Export metrics (CSV) and this screen (SVG) into the run directory", show=False),
    Binding("o", "runs", "Runs: list saved runs, open one's curves, overlay two (space marks)", show=False),
    Binding("n,right,pagedown", "page(1)", "Next page of digits", show=False),
    Binding("p,left,pageup", "page(-1)", "Previous page of digits", show=False),
    Binding("down", "select(1)", "Select the next digit", show=False),
    Binding("up", "select(-1)", "Select the previous digit", show=False),
    Binding("m", "mistakes", "Show only mistakes (toggle)", show=False),
    Binding("l", "log_scale", "Loss plot: log scale (toggle)", show=False),
    Binding("t", "smoothing", "Loss plot: EMA line (toggle)", show=False),
    Binding("1", "show_tab('monitor')", "Monitor tab", show=False),
    Binding("2", "show_tab('digits')", "Digits tab", show=False),
    Binding("3", "show_tab('settings')", "Settings tab", show=False),
    Binding("4", "show_tab('errors')", "Errors tab: confusion matrix, worst mistakes", show=False),
    Binding("5", "show_tab('layers')", "Layers tab: histograms, gradient norms, dead units, weight images",
            show=False),
    Binding("6", "show_tab('graph')", "Graph tab: the computational-graph lesson", show=False),
    Binding("7", "show_tab('backprop')", "Backprop tab: the forward and backward pass through the real network, "
            "layer by layer, on the selected digit", show=False),
    Binding("8", "show_tab('lab')", "Lab tab: inject a backprop bug into a copy, see the gradient check catch it",
            show=False),
    Binding("w", "worst", "Digits: the most confidently wrong test digits", show=False),
    Binding("escape", "escape", "Digits: back to all; Settings: leave the form", show=False),
]
# What the footer's short labels mean, for the help screen and the command palette.
KEY_HELP = {
    "toggle_run": "Start training, pause it, resume it",
    "step": "Run exactly one batch, then stay paused",
    "reset": "Reset: a new run with the current settings (asks first)",
    "gradcheck": "Gradient check now: backprop vs numerical, per tensor",
    "lr(0.5)": "Halve the learning rate (at the next batch)",
    "lr(2.0)": "Double the learning rate (at the next batch)",
    "help": "This help",
    "quit_app": "Quit (asks while training runs)",
}

# The actions of the monitor's own keys (quit excepted: it works from anywhere), for check_action.
KEY_ACTIONS = {b.action.split("(")[0] for b in KEYS} - {"quit_app"}
# Those with nothing to act on when the dataset is unavailable (reset retries; the views just stay empty).
NEEDS_DATA = {"toggle_run", "step", "gradcheck", "lr", "evaluate", "checkpoint", "export"}


def key_works(action: str, screen: Screen, data_unavailable: bool) -> bool:
    """False hides a key from the footer and the palette, and ignores it: while the run browser, help, a
    question, the dataset screen or a TensorBoard log is on top, the monitor's keys wait (no training
    unseen); without data, the keys that need it are gone rather than answering "There is no data"."""
    if action not in KEY_ACTIONS:
        return True
    if isinstance(screen, (RunsScreen, TensorBoardScreen, HelpScreen, ConfirmScreen, DatasetScreen)):
        return False
    return not (action in NEEDS_DATA and data_unavailable)
