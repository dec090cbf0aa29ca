"""A run's summary file: what the run browser lists of a run and the curves it draws, bounded in size, so
runs of any length are listed without reading their logs.

summary.jsonl holds two JSON lines, written together atomically (by the run's RunLog, engine/runs.py;
by the run browser for a run that has none, engine/run_index.py):

1. the row, {"version", "log_size", "iteration", "dataset", "architecture", "optimizer", "lr",
   "batch_size", "best_test_acc", "state", "damaged"}: all a listing reads;
2. the curves, {"log_size", "accuracy": [[iteration, train, test], ...], "loss": LossBlocks}: read
   when the run is shown. At most MAX_POINTS accuracy points (thinned when there are more) and
   MAX_BLOCKS loss blocks (engine/loss_blocks.py).

`log_size` is the length of events.jsonl the summary was made from: a log of another length means the
summary is stale. Like the log, the file is checked field by field before anything of it is used.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import events as ev
from .atomic import write_bytes_atomic
from .files import open_regular
from .loss_blocks import LossBlocks, json_number
from .records import MAX_LINE, MAX_NAME, DamagedRecord, Skipped, count, json_line, number, read_log, share, text

SUMMARY_FILE = "summary.jsonl"
VERSION = 1
MAX_ROW = 8192  # bytes of the first line: three names of up to 100 characters (12 bytes each escaped) and numbers
MAX_POINTS = 512  # accuracy points kept
STATES = ("new", "running", "paused", "finished", "diverged", "failed")  # as its log last said
STATE_OF = {ev.Started: "running", ev.Resumed: "running", ev.Paused: "paused", ev.Finished: "finished",
            ev.Diverged: "diverged", ev.Failed: "failed"}
ROW_FIELDS = ("version", "log_size", "iteration", "dataset", "architecture", "optimizer", "lr", "batch_size",
              "best_test_acc", "state", "damaged")


@dataclass
class Summary:
    """A run as a listing shows it, and the length of the log it was made from."""

    log_size: int = 0
    iteration: int = 0  # of its last batch
    dataset: str | None = None  # these five as its first Started record says (None: no such record)
    architecture: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    best_test_acc: float | None = None
    state: str = "new"  # one of STATES
    damaged: int = 0  # records of its log skipped as damaged


@dataclass
class Curves:
    accuracy: list[tuple[int, float, float]] = field(default_factory=list)  # (iteration, train, test)
    loss: LossBlocks = field(default_factory=LossBlocks)


class SummaryBuilder:
    """A run's summary made from its events, one at a time, in the log's order."""

    def __init__(self, summary: Summary | None = None, curves: Curves | None = None):
        self.summary = summary if summary is not None else Summary()
        self.curves = curves if curves is not None else Curves()

    def fold(self, event) -> None:
        s = self.summary
        if isinstance(event, ev.BatchDone):  # the most frequent by far
            self.curves.loss.add(event.iteration, event.loss)
            s.iteration = event.iteration
            return
        if isinstance(event, ev.Batches):  # a log's block of them
            for k, loss in enumerate(event.losses.tolist()):
                self.curves.loss.add(event.first + k, loss)
            s.iteration = event.last
            return
        if isinstance(event, (ev.EpochDone, ev.Evaluated)):
            self._add_point((event.iteration, event.train_acc, event.test_acc))
            if math.isfinite(event.test_acc) and (s.best_test_acc is None or event.test_acc > s.best_test_acc):
                s.best_test_acc = event.test_acc
        if type(event) in STATE_OF:
            s.state = STATE_OF[type(event)]
        if isinstance(event, ev.Started) and s.dataset is None:
            s.dataset, s.architecture = event.dataset, event.architecture
            s.optimizer, s.lr, s.batch_size = event.config.optimizer, event.config.lr, event.config.batch_size

    def _add_point(self, point: tuple[int, float, float]) -> None:
        points = self.curves.accuracy
        points.append(point)
        if len(points) > MAX_POINTS:  # every other one goes; an odd count keeps the first and the newest
            del points[1::2]

    def encode(self, log_size: int) -> bytes:
        """The file's two lines, for a log `log_size` bytes long."""
        row = {**vars(self.summary), "log_size": log_size, "version": VERSION}
        curves = {"log_size": log_size, "loss": self.curves.loss.encode(),
                  "accuracy": [[i, json_number(train), json_number(test)] for i, train, test in self.curves.accuracy]}
        lines = ({name: row[name] for name in ROW_FIELDS}, curves)
        return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()


def summarise_log(log: Path) -> SummaryBuilder:
    """The summary of the log at `log`, read whole (damaged records skipped and counted); OSError when it
    cannot be read."""
    builder, skipped = SummaryBuilder(), Skipped()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a cut-short last line (a killed writer) is normal here
        for event in read_log(log, skipped):
            builder.fold(event)
    builder.summary.damaged = skipped.count
    return builder


def write_summary(run_dir: Path, data: bytes) -> None:
    write_bytes_atomic(run_dir / SUMMARY_FILE, data)


def read_row(run_dir: Path) -> Summary:
    """The summary's first line, checked; OSError when there is none or it cannot be read (a symlink is
    refused), DamagedRecord when it is not what a summary holds."""
    with open_regular(run_dir / SUMMARY_FILE) as f:
        line = f.readline(MAX_ROW + 1)
    if not line.endswith(b"\n"):
        raise DamagedRecord(f"the first line: cut short or over {MAX_ROW:,} bytes")
    return _row(json_line(line))


def read_summary(run_dir: Path) -> tuple[Summary, Curves]:
    """The whole summary, checked (its two lines must be of the same log); errors as read_row's."""
    with open_regular(run_dir / SUMMARY_FILE) as f:
        data = f.read(MAX_ROW + MAX_LINE + 2)
    lines = data.split(b"\n")
    if len(lines) != 3 or lines[2] or len(lines[0]) > MAX_ROW or len(lines[1]) > MAX_LINE:
        raise DamagedRecord("not two lines of at most the sizes a summary writes")
    summary, curves = _row(json_line(lines[0])), json_line(lines[1])
    if not isinstance(curves, dict) or sorted(curves) != ["accuracy", "log_size", "loss"]:
        raise DamagedRecord("the curves: not an object with the fields log_size, accuracy, loss")
    if count(curves["log_size"], "curves log_size") != summary.log_size:
        raise DamagedRecord("the curves are not of the same log as the row")
    accuracy = curves["accuracy"]
    if not isinstance(accuracy, list) or len(accuracy) > MAX_POINTS:
        raise DamagedRecord(f"accuracy: not a list of at most {MAX_POINTS} points")
    return summary, Curves([_point(p, f"accuracy[{i}]") for i, p in enumerate(accuracy)], LossBlocks.decode(curves["loss"]))


def _row(value) -> Summary:
    if not isinstance(value, dict) or sorted(value) != sorted(ROW_FIELDS):
        raise DamagedRecord(f"the row: not an object with the fields {', '.join(ROW_FIELDS)}")
    if type(value["version"]) is not int or value["version"] != VERSION:
        raise DamagedRecord(f"version: {str(value['version'])[:20]!r} is not {VERSION}")
    if value["state"] not in STATES:
        raise DamagedRecord(f"state: {str(value['state'])[:20]!r} is not one of {', '.join(STATES)}")
    missing = [value[name] is None for name in ("dataset", "architecture", "optimizer", "lr", "batch_size")]
    if any(missing) and not all(missing):
        raise DamagedRecord("dataset, architecture, optimizer, lr and batch_size: some given, some not")
    best = _optional(value["best_test_acc"], lambda v: share(v, "best_test_acc"))
    if best is not None and math.isnan(best):
        raise DamagedRecord("best_test_acc: nan is never the best")
    return Summary(
        count(value["log_size"], "log_size"), count(value["iteration"], "iteration"),
        *(_optional(value[name], lambda v, name=name: text(v, name, MAX_NAME))
          for name in ("dataset", "architecture", "optimizer")),
        _optional(value["lr"], lambda v: number(v, "lr", 0.0)),
        _optional(value["batch_size"], lambda v: count(v, "batch_size")),
        best, value["state"], count(value["damaged"], "damaged"))


def _point(value, where: str) -> tuple[int, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise DamagedRecord(f"{where}: not [iteration, train, test]")
    return count(value[0], f"{where} iteration"), share(value[1], f"{where} train"), share(value[2], f"{where} test")


def _optional(value, check):
    return None if value is None else check(value)
