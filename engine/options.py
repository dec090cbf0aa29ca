"""Training flags, defined once and shared by `python -m engine train` and `python -m tui`."""
from __future__ import annotations

import argparse

from .config import ConfigError, TrainConfig
from .optimizers import DEFAULT_LR, OPTIMIZERS
from .registry import REGISTRY
from .runs import CHECKPOINT_EVERY, KEEP, CheckpointPolicy

DEFAULTS = TrainConfig()


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=DEFAULTS.dataset, choices=list(REGISTRY),
                        help="dataset; downloaded into the cache on first use (default: %(default)s)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="read the dataset from this folder of the four standard IDX files "
                        "(train/t10k images/labels, .gz or not) instead of the cache")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", default="50", metavar="SIZES",
                        help="hidden layer sizes, comma-separated, e.g. 100,50 (default: %(default)s)")
    parser.add_argument("--activation", default=DEFAULTS.activation, choices=["relu", "sigmoid"],
                        help="hidden activation (default: %(default)s)")
    parser.add_argument("--weight-init", default=DEFAULTS.weight_init, metavar="STD|he|xavier",
                        help="initial weight std, or he / xavier scaling (default: %(default)s, the book's)")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed,
                        help="seed for initial weights and batch order (default: %(default)s)")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """All flags that describe a training run."""
    add_data_options(parser)
    add_model_options(parser)
    parser.add_argument("--optimizer", default=DEFAULTS.optimizer, choices=list(OPTIMIZERS),
                        help="optimizer (default: %(default)s)")
    parser.add_argument("--lr", type=float, metavar="RATE",
                        help="learning rate (default: per optimizer: "
                        + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items()) + ")")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, metavar="N",
                        help="samples per batch (default: %(default)s)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--iters", type=int, metavar="N",
                        help=f"batches to train (default: {DEFAULTS.iters})")
    length.add_argument("--epochs", type=int, metavar="N", help="train N passes over the data instead of --iters")
    parser.add_argument("--dtype", default=DEFAULTS.dtype, choices=["float32", "float64"],
                        help="training precision (default: %(default)s; gradient checks always use float64)")
    parser.add_argument("--gradcheck-every", type=int, default=DEFAULTS.gradcheck_every, metavar="N",
                        help="run a gradient check every N iterations, 0 = never (default: %(default)s)")


# The flag that sets each TrainConfig field, to name it in error messages.
FLAGS = {
    "dataset": "--dataset", "hidden_sizes": "--hidden", "activation": "--activation",
    "weight_init": "--weight-init", "optimizer": "--optimizer", "lr": "--lr", "batch_size": "--batch-size",
    "iters": "--iters", "epochs": "--epochs", "seed": "--seed", "dtype": "--dtype",
    "gradcheck_every": "--gradcheck-every", "gradcheck_batch": "--batch", "gradcheck_sample": "--sample",
}


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where runs are written, and how often each saves a checkpoint and how many it keeps."""
    parser.add_argument("--runs-dir", default="runs", metavar="DIR",
                        help="where each run writes its event log and checkpoints (default: %(default)s)")
    parser.add_argument("--keep-checkpoints", type=_at_least_one, default=KEEP, metavar="K",
                        help="checkpoints each run keeps, the newest (default: %(default)s)")
    parser.add_argument("--checkpoint-every", type=_seconds, default=CHECKPOINT_EVERY, metavar="SECONDS",
                        help="save a checkpoint at the first epoch end this long after the last one; 0: at "
                        "every epoch end (default: %(default)s; a checkpoint is also saved where a run stops)")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue a run (a run directory, or its name in --runs-dir) from its latest "
                        "checkpoint, with its saved settings (and, in the app, its curves); --iters or --epochs "
                        "changes its length")


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def checkpoint_policy(args: argparse.Namespace) -> CheckpointPolicy:
    return CheckpointPolicy(args.keep_checkpoints, args.checkpoint_every)


def describe(error: ConfigError) -> str:
    """'argument --lr: learning rate must be ...' for each problem, argparse style."""
    return "; ".join(f"argument {FLAGS.get(field, field)}: {message}" for field, message in error.problems.items())


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            {"hidden_sizes": f"hidden sizes must be comma-separated whole numbers like 100,50, got {text!r}"}
        ) from None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A validated TrainConfig from parsed flags; raises ValueError naming the bad setting."""
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    return TrainConfig(
        dataset=args.dataset,
        hidden_sizes=parse_hidden(args.hidden),
        activation=args.activation,
        weight_init=args.weight_init,
        optimizer=args.optimizer,
        lr=lr,
        batch_size=args.batch_size,
        iters=DEFAULTS.iters if args.iters is None else args.iters,
        epochs=args.epochs,
        seed=args.seed,
        dtype=args.dtype,
        gradcheck_every=args.gradcheck_every,
    )
