"""python -m tui show RUN: a run's loss and accuracy plots, its last gradient check and a summary line, printed
once to stdout (a CI log, `ssh server python -m tui show RUN`), live or finished.

The run's log is read as an attached monitor reads it (engine.runs.LogFollower: every record checked,
damaged ones skipped and counted), folded into a MonitorState, and drawn by the monitor's own plot code
(LossPlot.draw, AccuracyPlot.draw) with plotext's text output. Colour only on a terminal; `--ascii` draws
with ASCII characters alone.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from textual.geometry import Size

from engine.checkpoint import CheckpointError
from engine.config import TrainConfig
from engine.runs import LogFollower, resolve_run

from .state import MonitorState
from .widgets.accuracy_plot import AccuracyPlot
from .widgets.ansi_frame import ascii_text, to_ascii
from .widgets.gradcheck_table import COLUMNS, cells
from .widgets.loss_plot import LossPlot
from .widgets.status_bar import render_status
from .widgets.timed_plot import TimedPlot

EXIT_OK, EXIT_USAGE = 0, 2
MAX_POLLS = 10_000  # a log read in bounded pieces: enough for any log this project writes


class Figure:
    """What a plot's draw() reads of its widget: the state, the size and how to mark points."""

    log_scale = True
    smoothing = True
    marker = TimedPlot.marker

    def __init__(self, state: MonitorState, width: int, height: int, ascii: bool):
        self.state, self.size, self.ascii = state, Size(width, height), ascii


def read_state(run_dir: Path) -> tuple[MonitorState, int]:
    """The run as a monitor attached to it would hold it, and how many damaged records were skipped."""
    follower = LogFollower(run_dir)
    state = MonitorState(TrainConfig())
    for _ in range(MAX_POLLS):
        for event in follower.poll():
            state.apply(event)
        if follower.caught_up:
            break
    return state, follower.skipped.count


def plot_text(draw, state: MonitorState, width: int, height: int, ascii: bool, color: bool) -> str:
    import plotext as plt

    plt.clear_data()
    plt.clear_figure()
    draw(Figure(state, width, height, ascii), plt)
    plt.limit_size(False, False)  # the size asked for, not the terminal's (stdout may be a file)
    plt.plotsize(width, height)
    plt.theme("clear" if not color else "pro")
    text = plt.build() if color else plt.uncolorize(plt.build())
    return to_ascii(text) if ascii else text


def gradcheck_table(state: MonitorState) -> Table | str:
    if state.gradcheck_iteration is None:
        return "no gradient check in this run's log yet"
    table = Table(title=f"gradient check at iteration {state.gradcheck_iteration:,}", box=None, padding=(0, 1),
                  title_justify="left")
    for name in COLUMNS:
        table.add_column(name, no_wrap=True)
    for row in state.gradcheck:
        table.add_row(*cells(row))
    return table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui show", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory, or its name in --runs-dir")
    parser.add_argument("--runs-dir", default="runs", help="where runs are looked up by name (default: runs)")
    columns = shutil.get_terminal_size((100, 30)).columns
    parser.add_argument("--width", type=int, default=min(columns, 120), help="columns (default: the terminal's)")
    parser.add_argument("--height", type=int, default=16, help="rows of each plot (default: 16)")
    parser.add_argument("--ascii", action="store_true", help="ASCII characters only, no colour")
    args = parser.parse_args(argv)
    if not 40 <= args.width <= 1000 or not 8 <= args.height <= 200:
        parser.error("--width must be 40 to 1000 and --height 8 to 200")
    try:
        run_dir = resolve_run(args.run, args.runs_dir)
    except CheckpointError as exc:
        parser.error(str(exc))
    state, skipped = read_state(run_dir)
    color = sys.stdout.isatty() and not args.ascii
    console = Console(width=args.width, color_system="auto" if color else None, force_terminal=color,
                      legacy_windows=False)
    status = render_status(state, width=args.width)  # a Text: names from the log are never markup
    console.print(ascii_text(status) if args.ascii else status)
    for draw in (LossPlot.draw, AccuracyPlot.draw):
        print(plot_text(draw, state, args.width, args.height, args.ascii, color))
    console.print(gradcheck_table(state))
    if skipped:
        print(f"warning: {skipped:,} damaged records of the run's log were skipped", file=sys.stderr)
    return EXIT_OK
