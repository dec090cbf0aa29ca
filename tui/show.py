"""python -m tui show RUN: a run's loss and accuracy plots, its last gradient check and a summary line, printed
once to stdout (a CI log, `ssh server python -m tui show RUN`), live or finished. Given a folder of
TensorBoard event files instead, it prints a table of every scalar tag and the plots of some (--tag).

The run's log is read as an attached monitor reads it (engine.runs.LogFollower: every record checked,
damaged ones skipped and counted), folded into a MonitorState, and drawn by the monitor's own plot code
(LossPlot.draw, AccuracyPlot.draw) with plotext's text output. Colour only on a terminal; `--ascii` draws
with ASCII characters alone.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.geometry import Size

from engine.checkpoint import CheckpointError
from engine.config import TrainConfig
from engine.records import plain
from engine.runs import LogFollower, resolve_run
from engine.tensorboard_log import TensorBoardLog

from .scalars import MAX_SERIES, ScalarsState
from .state import MonitorState
from .widgets.accuracy_plot import AccuracyPlot
from .widgets.ansi_frame import ascii_text, to_ascii
from .widgets.gradcheck_table import COLUMNS, cells
from .widgets.loss_plot import LossPlot
from .widgets.scalar_plot import ScalarPlot
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


def plot_text(draw, figure: Figure, color: bool) -> str:
    """`draw` (a plot's draw method) on `figure` (its widget's stand-in) as plotext's text."""
    import plotext as plt

    width, height, ascii = figure.size.width, figure.size.height, figure.ascii
    plt.clear_data()
    plt.clear_figure()
    draw(figure, plt)
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


class ScalarFigure(Figure):
    """What ScalarPlot.draw reads of its widget."""

    draw_one = ScalarPlot.draw_one
    draw_overlay = ScalarPlot.draw_overlay

    def __init__(self, state: ScalarsState, tag: str, width: int, height: int, ascii: bool):
        super().__init__(state, width, height, ascii)
        self.tag, self.log_scale = tag, "loss" in tag.lower()
        self.smoothing = len(state.of(tag)) == 1  # several runs: their values, not EMAs that lag behind them


def read_scalars(logdir: Path) -> tuple[ScalarsState, TensorBoardLog]:
    log, state = TensorBoardLog(logdir), ScalarsState()
    for _ in range(MAX_POLLS):
        state.apply(log.poll())
        if log.caught_up:
            break
    return state, log


def chosen_tags(state: ScalarsState, asked: list[str]) -> list[str]:
    """The tags asked for, or by default the first two with "loss" in them and the first with "acc"."""
    tags = state.tags()
    if asked:
        return [tag for tag in asked if tag in tags]
    loss = [tag for tag in tags if "loss" in tag.lower()][:2]
    accuracy = [tag for tag in tags if "acc" in tag.lower()][:1]
    return loss + accuracy or tags[:1]


NARROW = 80  # columns below which the table leaves out points and last step, so the numbers stay whole


def scalar_table(state: ScalarsState, width: int) -> Table:
    table = Table(box=None, padding=(0, 1))
    columns = [name for name in ("tag", "run", "points", "last step", "last", "min", "max")
               if width >= NARROW or name not in ("points", "last step")]
    for name in columns:  # names fold, numbers stay whole
        table.add_column(name, justify="left" if name in ("tag", "run") else "right", overflow="fold",
                         min_width=12 if name == "tag" else None, no_wrap=name not in ("tag", "run"))
    for tag in state.tags():
        for run, series in state.of(tag):
            whole = series.values.query(series.values.first_iteration, series.values.last_iteration, 1)
            cells = {"tag": Text(tag), "run": Text(run), "points": f"{series.points:,}",
                     "last step": f"{series.last_step:,}", "last": f"{series.last_value:.4g}",
                     "min": f"{float(whole.low.min()):.4g}", "max": f"{float(whole.high.max()):.4g}"}
            table.add_row(*(cells[name] for name in columns))
    return table


def show_tensorboard(logdir: Path, args: argparse.Namespace, console: Console, color: bool) -> int:
    state, log = read_scalars(logdir)
    runs = state.runs()
    title = Text(plain(f"TensorBoard log {logdir} · {len(runs)} run{'s' * (len(runs) != 1)} · "
                       f"{len(state.tags())} scalar tags"))
    console.print(ascii_text(title) if args.ascii else title)
    if not state.series:
        print("no scalars in it yet", file=sys.stderr)
        return EXIT_OK
    missing = [tag for tag in args.tag if tag not in state.tags()]
    for tag in chosen_tags(state, args.tag):
        print(plot_text(ScalarPlot.draw, ScalarFigure(state, tag, args.width, args.height, args.ascii), color))
    console.print(scalar_table(state, args.width))
    dropped = [f"{state.dropped:,} points of series past the first {MAX_SERIES} (run, tag) pairs not shown"] \
        if state.dropped else []
    for note in log.problems() + dropped + [f"no tag {tag!r}" for tag in missing]:
        print(f"warning: {plain(note)}", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui show", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory, or its name in --runs-dir")
    parser.add_argument("--runs-dir", default="runs", help="where runs are looked up by name (default: runs)")
    columns = shutil.get_terminal_size((100, 30)).columns
    parser.add_argument("--width", type=int, default=min(columns, 120), help="columns (default: the terminal's)")
    parser.add_argument("--height", type=int, default=16, help="rows of each plot (default: 16)")
    parser.add_argument("--ascii", action="store_true", help="ASCII characters only, no colour")
    parser.add_argument("--tag", action="append", default=[],
                        help="with a TensorBoard folder: a scalar tag to plot (again for more; default: the loss "
                        "and accuracy ones)")
    args = parser.parse_args(argv)
    if not 40 <= args.width <= 1000 or not 8 <= args.height <= 200:
        parser.error("--width must be 40 to 1000 and --height 8 to 200")
    color = sys.stdout.isatty() and not args.ascii
    console = Console(width=args.width, color_system="auto" if color else None, force_terminal=color,
                      legacy_windows=False)
    try:
        run_dir = resolve_run(args.run, args.runs_dir)
    except CheckpointError as exc:
        if os.path.isdir(args.run) and TensorBoardLog(Path(args.run)).find_files():
            return show_tensorboard(Path(args.run), args, console, color)
        parser.error(f"{exc}, and no TensorBoard event files (*tfevents*) in it")
    state, skipped = read_state(run_dir)
    status = render_status(state, width=args.width)  # a Text: names from the log are never markup
    console.print(ascii_text(status) if args.ascii else status)
    for draw in (LossPlot.draw, AccuracyPlot.draw):
        print(plot_text(draw, Figure(state, args.width, args.height, args.ascii), color))
    console.print(gradcheck_table(state))
    if skipped:
        print(f"warning: {skipped:,} damaged records of the run's log were skipped", file=sys.stderr)
    return EXIT_OK
