"""How the monitor draws, as opposed to how the network trains (engine.config.TrainConfig).

Over a slow SSH link every redraw costs bytes: `UiOptions` bounds how often each
view may be redrawn while training runs, and `LOW_BANDWIDTH` is the
`--low-bandwidth` preset. `ascii` draws the plots and the digit pane with ASCII
characters only.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass

MANUAL = "manual"  # --preview-interval manual: new digits only when asked for (key e)


@dataclass(frozen=True)
class UiOptions:
    plot_interval: float = 1.0  # seconds: loss and accuracy plots redraw at most this often while training
    status_interval: float = 0.5  # seconds: the status line redraws at most this often (a state change at once)
    preview_interval: float | None = 0.0  # seconds between new digits in the preview; None: only on demand (e)
    ascii: bool = False  # plots and digit pane in ASCII only (no braille, half blocks or box drawing)

    def __post_init__(self):
        for name in ("plot_interval", "status_interval", "preview_interval"):
            value = getattr(self, name)
            if value is None and name == "preview_interval":
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 3600):
                raise ValueError(f"{name.replace('_', '-')} must be a number of seconds from 0 to 3600, not {value!r}")

    def with_changes(self, **changes) -> UiOptions:
        return dataclasses.replace(self, **changes)


# Plots every 5 s, the status line every 2 s (a state change at once), digits only on demand.
LOW_BANDWIDTH = UiOptions(plot_interval=5.0, status_interval=2.0, preview_interval=None)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 3600, got {text!r}")
    return value


def _preview(text: str) -> float | None:
    return None if text.strip().lower() == MANUAL else _seconds(text)


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("display (for slow links: SSH, mosh, tmux)")
    group.add_argument("--low-bandwidth", action="store_true",
                       help="write less to the terminal: plots every 5 s, the status line every 2 s, "
                       "new digits only on demand (e); the flags below override single values")
    group.add_argument("--plot-interval", type=_seconds, metavar="SECONDS",
                       help=f"redraw the plots at most this often while training (default {UiOptions.plot_interval:g})")
    group.add_argument("--status-interval", type=_seconds, metavar="SECONDS",
                       help=f"redraw the status line at most this often (default {UiOptions.status_interval:g})")
    group.add_argument("--preview-interval", type=_preview, metavar="SECONDS|manual", default=argparse.SUPPRESS,
                       help="show new digits at most this often; manual: only when e is pressed (default 0: "
                       "at every evaluation)")
    group.add_argument("--ascii", action="store_true",
                       help="draw the plots and the digit pane with ASCII characters only")


def ui_options_from_args(args: argparse.Namespace) -> UiOptions:
    options = LOW_BANDWIDTH if args.low_bandwidth else UiOptions()
    changes = {name: getattr(args, name) for name in ("plot_interval", "status_interval")
               if getattr(args, name) is not None}
    if hasattr(args, "preview_interval"):
        changes["preview_interval"] = args.preview_interval
    return options.with_changes(ascii=args.ascii, **changes)
