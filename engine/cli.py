"""Headless command line: `python -m engine train | gradcheck | export | data`.

Exit status: 0 on success, 2 on a bad argument (with a message naming it),
1 on a runtime failure (one clear line, no traceback for expected errors).
"""
from __future__ import annotations

import argparse
import queue
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from . import events as ev
from .checkpoint import CheckpointError
from .config import ConfigError, TrainConfig
from .control import commands_size
from .dataset import Dataset, DatasetError
from .download import DownloadProgress
from .export import export_run
from .functions import as_float
from .gradcheck import ATOL, RTOL, gradient_check
from .loader import cache_dir, cached_files, load_dataset, verify_cached
from .network import Network
from .options import (
    add_data_options,
    add_model_options,
    add_run_options,
    add_training_options,
    checkpoint_policy,
    config_from_args,
    describe,
    parse_hidden,
)
from .records import Skipped
from .registry import REGISTRY
from .run_lock import RunBusy, RunLock
from .runs import (
    ChannelProblem,
    CheckpointPolicy,
    RunLog,
    latest_checkpoint,
    new_run_dir,
    recorded_data_dir,
    resolve_run,
    truncate_log,
)
from .tensorboard_export import ExportError, export_tensorboard
from .trainer import Trainer

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(subparsers=commands.choices)
    train = commands.add_parser("train", help="train a network and print accuracy each epoch",
                                description="Train a network, printing loss and accuracy each epoch.")
    add_training_options(train)
    add_run_options(train)
    check = commands.add_parser("gradcheck", help="compare backprop and numerical gradients",
                                description="Compare backprop gradients with central differences, per parameter.")
    add_data_options(check)
    add_model_options(check)
    check.add_argument("--batch", type=int, default=3, metavar="N",
                       help="training samples to check on (default: %(default)s, as the book)")
    check.add_argument("--sample", type=int, metavar="K",
                       help="check at most K random elements per tensor (default: all)")
    export = commands.add_parser("export", help="write a run's metrics as CSV, JSON lines or a TensorBoard file",
                                 description="Write a run's metrics in a form pandas or TensorBoard reads directly.")
    export.add_argument("run", metavar="RUN", help="a run directory")
    form = export.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="metrics.csv and gradcheck.csv in RUN (the default)")
    form.add_argument("--jsonl", action="store_true", help="metrics.jsonl: one record per batch or evaluation")
    form.add_argument("--tensorboard", nargs="?", const="", metavar="DIR",
                      help="a TensorBoard event file in DIR (default: RUN/tensorboard; replaced when exported "
                      "again): loss, loss_ema, lr, accuracy, grad checks, gradient norms, dead units, weight and "
                      "gradient histograms, first-layer weight images from the checkpoints; every event is "
                      "stamped with the run's start time. View: tensorboard --logdir DIR")
    data = commands.add_parser("data", help="list, fetch or verify cached datasets",
                               description=f"Manage the dataset cache ({cache_dir()}; set BACKPROP_TUI_DATA "
                               "to move it).")
    data.add_argument("action", choices=["list", "fetch", "verify"],
                      help="list: what is cached; fetch: download and decode; verify: re-check SHA-256")
    data.add_argument("names", nargs="*", metavar="DATASET",
                      help=f"datasets to act on: {', '.join(REGISTRY)} (default: all for list/verify, mnist for fetch)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "data":
        return data_command(args)
    if args.command == "export":
        return export_command(args)
    checkpoint = run_dir = lock = None
    if args.command == "train" and args.resume is not None:
        try:
            run_dir = resolve_run(args.resume, args.runs_dir)
            lock = RunLock(run_dir)  # held until this process ends: a second resume is refused at once
            checkpoint = latest_checkpoint(run_dir, warn=lambda m: print(f"warning: {m}", file=sys.stderr))
        except (CheckpointError, RunBusy) as exc:
            print(f"error: cannot resume: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        except OSError as exc:
            print(f"error: cannot resume: {exc.filename or run_dir}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILURE
        args.dataset = checkpoint.config.dataset
        if args.data_dir is None:  # where the run's data came from, unless told otherwise
            args.data_dir = recorded_data_dir(run_dir)
    try:
        config = config_from_args(args) if args.command == "train" else TrainConfig(
            dataset=args.dataset, hidden_sizes=parse_hidden(args.hidden), activation=args.activation,
            weight_init=args.weight_init, seed=args.seed, gradcheck_batch=args.batch,
            gradcheck_sample=TrainConfig.gradcheck_sample if args.sample is None else args.sample,
        )
    except ConfigError as exc:
        args.subparsers[args.command].error(describe(exc))  # exits with status 2
    try:
        dataset = load_data(args)
        if args.command == "gradcheck":
            return gradcheck(dataset, config, args.sample)
        if checkpoint is not None:
            # The run's own settings, except a new length when --iters or --epochs is given.
            length = {"iters": args.iters, "epochs": None} if args.iters is not None else (
                {"epochs": args.epochs} if args.epochs is not None else {})
            resumed = checkpoint.config.with_changes(**length)
            trainer = Trainer.from_checkpoint(dataset, checkpoint, config=resumed)  # refuses other data first
            damaged = truncate_log(run_dir, checkpoint.iteration)  # records after the checkpoint will be made again
            if damaged.count:
                print(f"warning: {run_dir}: {damaged}; the curves go on without them", file=sys.stderr)
        else:
            architecture = "-".join(map(str, (dataset.input_size, *config.hidden_sizes, dataset.num_classes)))
            try:
                run_dir = new_run_dir(args.runs_dir, config, architecture, args.data_dir)
            except OSError as exc:
                print(f"error: cannot make a run directory in {args.runs_dir}: {exc.strerror or exc}", file=sys.stderr)
                return EXIT_FAILURE
            lock = RunLock(run_dir)
            trainer = Trainer(dataset, config)
        return train(trainer, run_dir, checkpoint_policy(args), commands_size(run_dir), args.data_dir)
    except (DatasetError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # the run directory could not be written before training began
        print(f"error: {exc.filename or run_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if lock is not None:
            lock.release()


def data_command(args: argparse.Namespace) -> int:
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        args.subparsers["data"].error(f"argument DATASET: unknown dataset {unknown[0]!r}; known: {', '.join(REGISTRY)}")
    names = args.names or (["mnist"] if args.action == "fetch" else list(REGISTRY))
    status = EXIT_OK
    for name in names:
        info = REGISTRY[name]
        if args.action == "fetch":
            try:
                data = load_dataset(name, progress=TextProgress(sys.stderr))
            except DatasetError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = EXIT_FAILURE
                continue
            print(f"{info.title}: {len(data.x_train):,} train / {len(data.x_test):,} test images "
                  f"in {cache_dir() / name}")
        elif args.action == "list":
            report = cached_files(info)
            have = sum(1 for state in report.values() if state != "missing")
            print(f"{name:<14}{info.title:<17}{have}/4 files  {'ready' if have == 4 else 'not fetched':<12}"
                  f"{cache_dir() / name}")
            print(f"{'':14}{info.licence}")
        else:
            report = verify_cached(info)
            for file, state in report.items():
                print(f"{name:<14}{file:<30}{state}")
                if state not in ("ok", "missing"):
                    status = EXIT_FAILURE
    return status


def load_data(args: argparse.Namespace) -> Dataset:
    """The dataset the flags name, with download progress and verification warnings on stderr."""
    return load_dataset(args.dataset, args.data_dir, progress=TextProgress(sys.stderr),
                        warn=lambda message: print(f"warning: {message}", file=sys.stderr))


class TextProgress:
    """Download progress on stderr: a bar redrawn in place on a terminal, one line per file otherwise."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = -1

    def __call__(self, p: DownloadProgress) -> None:
        percent = 100 * p.done // max(p.total, 1)
        if percent == self.shown and p.done < p.total:
            return
        self.shown = percent
        if self.tty:
            bar = "#" * (percent // 5) + "." * (20 - percent // 5)
            end = "\n" if p.done >= p.total else ""
            self.stream.write(f"\r  {p.file:<28} [{bar}] {percent:3d}%  {p.done / 1e6:6.1f}/{p.total / 1e6:.1f} MB{end}")
        elif p.done >= p.total:
            self.stream.write(f"  downloaded {p.file} ({p.total:,} bytes, verified)\n")
        self.stream.flush()
        if p.done >= p.total:
            self.shown = -1


def train(trainer: Trainer, run_dir: Path, policy: CheckpointPolicy, commands_from: int | None,
          data_dir: str | None) -> int:
    """Run the trainer, logging to `run_dir` (checkpoints by `policy`) and printing what the worker reports."""
    inbox: queue.Queue = queue.Queue()
    log = RunLog(run_dir, inbox.put, policy)
    trainer.sink = log
    log.attach(trainer, commands_from)
    config, dataset, resumed_at = trainer.config, trainer.dataset, trainer.iteration
    print(f"{dataset.name}: {len(dataset.x_train):,} train / {len(dataset.x_test):,} test; "
          f"network {trainer.network.architecture} {config.activation}, {config.optimizer} lr {config.lr}, "
          f"batch {config.batch_size}, {_length(config)}, {config.dtype}, seed {config.seed}")
    print(f"run directory: {run_dir}" + (f" (resumed at iteration {trainer.iteration:,})" if trainer.iteration else ""))
    losses: list[tuple[int, float]] = []  # (iteration, loss) of the batches not yet in an epoch line
    last = accuracy = None
    # A hang-up or kill (SIGTERM) ends the run like ctrl+c: checkpoint, then exit.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    trainer.start()
    try:
        while True:
            try:
                event = inbox.get(timeout=0.5)
            except queue.Empty:
                if not trainer.alive and inbox.empty():  # the worker ended without a last word: never wait forever
                    print("error: the training thread ended unexpectedly", file=sys.stderr)
                    return _stop(trainer, log, EXIT_FAILURE)
                continue
            if isinstance(event, ev.BatchDone):
                losses.append((event.iteration, event.loss))
                last = event
            elif isinstance(event, ev.EpochDone):  # scored while training went on: later batches are not this epoch's
                epoch_losses = [loss for iteration, loss in losses if iteration <= event.iteration]
                loss = f"{np.mean(epoch_losses):.4f}" if epoch_losses else "   -  "
                rate = f"{last.samples_per_s:,.0f} samples/s" if last else ""
                print(f"epoch {event.epoch:3d}  iter {event.iteration:7,d}  loss {loss}  "
                      f"train acc {event.train_acc:.4f}  test acc {event.test_acc:.4f}  {rate}", flush=True)
                del losses[:len(epoch_losses)]
                accuracy = event
            elif isinstance(event, ev.Evaluated):
                accuracy = event
            elif isinstance(event, ev.GradCheckDone):
                print_gradcheck(event.rows, f"gradient check at iteration {event.iteration}")
            elif isinstance(event, ev.WriteFailed):
                print(f"error: cannot write {event.path}: {event.message}; stopped at iteration "
                      f"{trainer.iteration:,} (what was written is intact); free space or fix it, then: "
                      f"{resume_command(run_dir, data_dir)}", file=sys.stderr)
                return _stop(trainer, log, EXIT_FAILURE, quiet=True)
            elif isinstance(event, ev.Diverged):
                print(f"error: training diverged at iteration {event.iteration} (loss {event.loss}); "
                      "try a smaller --lr", file=sys.stderr)
                return _stop(trainer, log, EXIT_FAILURE)
            elif isinstance(event, ChannelProblem):
                print(f"warning: {event.message}", file=sys.stderr)
            elif isinstance(event, ev.Failed):
                print(f"error: training failed: {event.message}", file=sys.stderr)
                return _stop(trainer, log, EXIT_FAILURE)
            elif isinstance(event, ev.Finished):
                break
    except KeyboardInterrupt:
        status = _stop(trainer, log, EXIT_INTERRUPTED)  # first: the checkpoint is where the worker stopped
        print(f"\ninterrupted at iteration {trainer.iteration:,}; resume with: {resume_command(run_dir, data_dir)}",
              file=sys.stderr)
        return status
    _stop(trainer, log, EXIT_OK)
    seconds, here = event.seconds, event.iteration - resumed_at  # this process's time and iterations
    print(f"done: {event.iteration:,} iterations" + (f" ({here:,} of them here)" if resumed_at else "")
          + f" in {seconds:.1f} s ({trainer.throughput.samples / max(seconds, 1e-9):,.0f} samples/s); "
          f"train acc {accuracy.train_acc:.4f}, test acc {accuracy.test_acc:.4f}")
    return EXIT_OK


def resume_command(run_dir: Path, data_dir: str | None) -> str:
    """The command that continues the run, quoted to be pasted as it is, naming the data folder in use."""
    data = [] if data_dir is None else ["--data-dir", str(Path(data_dir).resolve())]
    return shlex.join(["python", "-m", "engine", "train", "--resume", str(run_dir), *data])


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(trainer: Trainer, log: RunLog, status: int, quiet: bool = False) -> int:
    """Stop the worker, save a checkpoint of where it stopped, close the log; return `status`.

    `quiet`: a write has already failed and been reported; the last checkpoint is tried all the same.
    """
    trainer.stop()
    try:
        log.save_now(trainer.checkpoint())
    except OSError as exc:
        if not quiet:
            print(f"warning: final checkpoint not written: {exc.strerror or exc}", file=sys.stderr)
    log.close()
    return status


def export_command(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    skipped = Skipped()
    if args.tensorboard is not None:
        return tensorboard_command(run_dir, Path(args.tensorboard) if args.tensorboard else None, skipped)
    try:
        written = export_run(run_dir, "jsonl" if args.jsonl else "csv", skipped=skipped)
    except OSError as exc:
        print(f"error: cannot export {run_dir}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    if skipped.count:
        print(f"warning: {run_dir}: {skipped}", file=sys.stderr)
    for path in written:
        print(path)
    return EXIT_OK


def tensorboard_command(run_dir: Path, out_dir: Path | None, skipped: Skipped) -> int:
    """`export RUN --tensorboard [DIR]`: the file written, what it holds, and how to look at it."""
    try:
        written = export_tensorboard(run_dir, out_dir, skipped)
    except ExportError as exc:
        print(f"error: cannot export {run_dir}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"error: cannot export {run_dir}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    if skipped.count:
        print(f"warning: {run_dir}: {skipped}", file=sys.stderr)
    if written.bad_checkpoints.count:
        n = written.bad_checkpoints.count
        print(f"warning: {run_dir}: {n} checkpoint{'s' if n > 1 else ''} that did not load, so no weight image "
              f"from {'them' if n > 1 else 'it'} (first: {written.bad_checkpoints.first})", file=sys.stderr)
    if written.not_pictures:
        print(f"note: {run_dir}: the inputs are not a square picture, so no weight images", file=sys.stderr)
    if written.others:
        print(f"warning: {written.path.parent} also holds {', '.join(written.others)}: TensorBoard shows the events "
              "of a folder's files together, as one run", file=sys.stderr)
    folder = shlex.quote(str(written.path.parent))
    scalars = [f"loss, loss_ema, lr ({written.batches:,} batches)" if written.batches else "",
               f"accuracy/train, accuracy/test ({written.scores:,} scores)" if written.scores else "",
               f"gradcheck/TENSOR/... ({written.gradchecks:,} checks)" if written.gradchecks else "",
               f"grad_norm/LAYER/W and /b, dead_units/LAYER ({written.layer_stats:,} layer statistics)"
               if written.layer_stats else ""]
    print(written.path)
    print(f"  scalars:    {'; '.join(filter(None, scalars)) or 'none'}")
    print(f"  histograms: {', '.join(sorted(written.histograms)) or 'none'}")
    print(f"  images:     {', '.join(sorted(written.image_tags)) or 'none'}"
          + (f" ({written.images:,} checkpoints)" if written.images else ""))
    start = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(written.wall_time))
    print(f"  wall time:  every event at the run's start ({start}): use TensorBoard's STEP axis")
    print(f"view it: tensorboard --logdir {folder}")
    print(f"     or: python -m tui --view {folder}")
    return EXIT_OK


def gradcheck(dataset: Dataset, config: TrainConfig, sample: int | None) -> int:
    rng = np.random.default_rng(config.seed)
    net = Network(dataset.input_size, config.hidden_sizes, dataset.num_classes, config.activation,
                  config.init, np.float64, rng)
    n = config.gradcheck_batch
    began = time.perf_counter()
    rows = gradient_check(net, as_float(dataset.x_train[:n], np.float64), dataset.t_train[:n], sample=sample)
    print_gradcheck(rows, f"gradient check of {net.architecture} on {n} samples "
                          f"({time.perf_counter() - began:.3f} s)")
    return EXIT_OK if all(r.passed for r in rows) else EXIT_FAILURE


def print_gradcheck(rows, title: str) -> None:
    print(title)
    print(f"  {'param':<6}{'mean|diff|':>12}{'shape':>12}{'count':>9}{'max|diff|':>12}"
          f"{'max rel':>11}{'kinks':>10}  result")
    for r in rows:
        shape = "x".join(map(str, r.shape))
        checked = f"{r.count:,}" if r.checked == r.count else f"{r.checked:,}/{r.count:,}"
        print(f"  {r.name:<6}{r.mean_abs_diff:>12.3e}{shape:>12}{checked:>9}{r.max_abs_diff:>12.3e}"
              f"{r.max_rel_error:>11.2e}{kinks(r):>10}  {'pass' if r.passed else 'FAIL'}")
    print(f"  pass: |backprop - numerical| <= {ATOL:g} + {RTOL:g} * |numerical| for every element "
          "away from a ReLU kink, and at a kink backprop between the slopes on either side")


def kinks(row) -> str:
    """"3 ok" when every element at a ReLU kink lay between its one-sided slopes, else how many did not."""
    if not row.kinks:
        return "0"
    return f"{row.kinks} ok" if not row.kink_failures else f"{row.kinks}:{row.kink_failures} bad"


def _length(config: TrainConfig) -> str:
    return f"{config.epochs} epochs" if config.epochs else f"{config.iters:,} iterations"
