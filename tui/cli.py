"""`python -m tui`: the same training flags as `python -m engine train`, defined once in engine.options."""
from __future__ import annotations

import argparse

from engine.checkpoint import CheckpointError
from engine.config import ConfigError
from engine.options import add_training_options, config_from_args, describe
from engine.runs import resolve_run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tui",
        description="Train a from-scratch NumPy network and watch it live. Press ? in the app for every key.",
    )
    add_training_options(parser)
    parser.add_argument("--runs-dir", default="runs", metavar="DIR",
                        help="where each run writes its event log and checkpoints (default: %(default)s)")
    parser.add_argument("--attach", metavar="RUN",
                        help="follow a run that another process (python -m engine train, or another python -m tui) "
                        "is writing, and steer it: pause, resume, step, learning rate, checkpoint")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue a run (a run directory, or its name in --runs-dir) from its latest "
                        "checkpoint, with its curves and its saved settings")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        parser.error(describe(exc))  # exits with status 2
    if args.resume and args.attach:
        parser.error("argument --attach: not allowed with --resume")
    runs = {}
    for flag in ("resume", "attach"):
        if getattr(args, flag):
            try:
                runs[flag] = resolve_run(getattr(args, flag), args.runs_dir)
            except CheckpointError as exc:
                parser.error(f"argument --{flag}: {exc}")
    # Textual loads only once the arguments are known to be good.
    from .app import BackpropApp
    from .session import Session

    BackpropApp(Session(config, args.data_dir, runs_dir=args.runs_dir, **runs)).run()
    return 0
