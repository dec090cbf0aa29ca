"""Run directories: an append-only event log and rotating checkpoints, so nothing is lost to a kill.

<runs root>/<UTC timestamp>-<short name>/
    config.json          the settings the run started with (written atomically)
    events.jsonl         one JSON object per event; batch and layer-stat records are written in blocks,
                         flushed at least every second and at once on any other event
    checkpoints/ckpt-<iteration>.npz   the last KEEP checkpoints (one per epoch, and on request)
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import events as ev
from .atomic import write_bytes_atomic
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig

FLUSH_EVERY = 1.0  # seconds: the most batch records a kill can lose
KEEP = 3  # checkpoints kept per run
# Images and whole-test-set predictions are not metrics (and too big); the checkpoint has the network.
NOT_LOGGED = (ev.Samples, ev.TestPredictions, ev.WeightImages, ev.DownloadProgress)
BUFFERED = (ev.BatchDone, ev.LayerStats)  # frequent records, written in blocks (the others at once, durably)


class TruncatedLogWarning(UserWarning):
    """The log's last line was cut short (the writer was killed mid-line); it was skipped."""


def new_run_dir(root: str | Path, config: TrainConfig, architecture: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path(root) / f"{stamp}-{config.dataset}-{architecture}"
    path, n = base, 1
    while path.exists():  # two runs started in the same second
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    (path / "checkpoints").mkdir(parents=True)
    write_bytes_atomic(path / "config.json", json.dumps(asdict(config), indent=2).encode())
    return path


def event_record(event) -> dict:
    """An event as a JSON-ready dict: {"event": class name, ...fields}; configs and rows as dicts."""
    record = {"event": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if dataclasses.is_dataclass(value):
            value = asdict(value)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            # Rows hold plain values and tuples of numbers: a shallow dict is enough, and asdict's
            # copy of every number took 0.5 ms for a LayerStats, on the worker thread.
            value = [{f.name: getattr(v, f.name) for f in dataclasses.fields(v)} for v in value]
        elif isinstance(value, float) and not np.isfinite(value):
            value = str(value)  # JSON has no NaN/inf
        record[f.name] = value
    return record


class RunLog:
    """A trainer sink that appends events to events.jsonl, then hands them on to `forward`.

    It also asks the trainer for a checkpoint at each epoch end and keeps the last KEEP.
    """

    def __init__(self, run_dir: Path, forward: Callable[[object], None] = lambda event: None):
        self.run_dir = run_dir
        self.forward = forward
        self.trainer = None  # set by attach(); needed to request checkpoints
        self._file = open(run_dir / "events.jsonl", "a", encoding="utf-8")
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()

    def attach(self, trainer) -> None:
        self.trainer = trainer

    def __call__(self, event) -> None:
        if not isinstance(event, NOT_LOGGED):
            with self._lock:
                self._pending.append(json.dumps(event_record(event)))
                now = time.monotonic()
                if not isinstance(event, BUFFERED) or now - self._last_flush >= FLUSH_EVERY:
                    self._flush(durable=not isinstance(event, BUFFERED))
        if isinstance(event, ev.EpochDone) and event.iteration > 0 and self.trainer is not None:
            self.trainer.request_checkpoint(self.checkpoint_path)
        elif isinstance(event, ev.CheckpointSaved):
            self.prune()
        self.forward(event)

    def checkpoint_path(self, iteration: int) -> Path:
        return self.run_dir / "checkpoints" / f"ckpt-{iteration:09d}.npz"

    def save_now(self, checkpoint: Checkpoint) -> Path:
        """Save from the caller's thread (when no worker runs, e.g. after Finished)."""
        path = self.checkpoint_path(checkpoint.iteration)
        save_checkpoint(path, checkpoint)
        self.prune()
        return path

    def prune(self) -> None:
        for old in checkpoints(self.run_dir)[:-KEEP]:
            old.unlink(missing_ok=True)

    def _flush(self, durable: bool) -> None:
        if self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self._pending.clear()
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        """Write out buffered batch records now (from any thread)."""
        with self._lock:
            self._flush(durable=False)

    def close(self) -> None:
        with self._lock:
            self._flush(durable=True)
            self._file.close()


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    return sorted((Path(run_dir) / "checkpoints").glob("ckpt-*.npz"))


def latest_checkpoint(run_dir: Path, warn: Callable[[str], None] = print) -> Checkpoint:
    """The newest checkpoint that loads; a bad one is reported and the one before it offered."""
    found = checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"{run_dir}: no checkpoints in {Path(run_dir) / 'checkpoints'}")
    for path in reversed(found):
        try:
            return load_checkpoint(path)
        except CheckpointError as exc:
            warn(f"{exc}; trying the previous checkpoint")
    raise CheckpointError(f"{run_dir}: none of its {len(found)} checkpoints can be read")


def read_events(run_dir: Path) -> Iterator[dict]:
    """The run's event records in order; a cut-short last line is skipped with a warning."""
    path = Path(run_dir) / "events.jsonl"
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:  # the last line: a writer killed mid-line
                warnings.warn(f"{path}: line {number} is cut short; skipped", TruncatedLogWarning, stacklevel=2)
                return
            raise ValueError(f"{path}: line {number} is not JSON") from None


def resolve_run(name: str | Path, runs_dir: str | Path = "runs") -> Path:
    """A run directory given as a path, or by its name inside `runs_dir`."""
    for candidate in (Path(name), Path(runs_dir) / name):
        if (candidate / "checkpoints").is_dir():
            return candidate
    raise CheckpointError(f"no run directory {str(name)!r} (looked in . and {runs_dir})")


REBUILT = {cls.__name__: cls for cls in (
    ev.BatchDone, ev.EpochDone, ev.Evaluated, ev.ParamChanged, ev.Paused, ev.Resumed, ev.Diverged,
    ev.Finished, ev.Failed,
)}
METRIC_EVENTS = (ev.BatchDone, ev.EpochDone, ev.Evaluated, ev.ParamChanged, ev.GradCheckDone, ev.LayerStats)


def rebuild(record: dict):
    """The event a log record was made from (None for kinds not rebuilt, such as checkpoints)."""
    from .gradcheck import GradCheckRow
    from .insight import LayerStatsRow

    record = dict(record)
    kind = record.pop("event", None)
    for name in ("loss",):  # "nan" / "inf" were written as text
        if name in record:
            record[name] = float(record[name])
    if kind in REBUILT:
        return REBUILT[kind](**record)
    if kind == "GradCheckDone":
        rows = tuple(GradCheckRow(**{**r, "shape": tuple(r["shape"])}) for r in record["rows"])
        return ev.GradCheckDone(rows, record["iteration"], record["seconds"])
    if kind == "LayerStats":  # JSON gave lists where the rows hold tuples
        rows = tuple(LayerStatsRow(**{k: tuple(v) if isinstance(v, list) else v for k, v in r.items()})
                     for r in record["layers"])
        return ev.LayerStats(record["iteration"], rows)
    if kind == "Started":
        config = {**record["config"], "hidden_sizes": tuple(record["config"]["hidden_sizes"])}
        return ev.Started(**{**record, "config": TrainConfig(**config)})
    return None


def history(run_dir: Path) -> list:
    """The metric events of the run's log, rebuilt, to replay a run's curves (grad checks and layer stats included)."""
    return [e for e in map(rebuild, read_events(run_dir)) if isinstance(e, METRIC_EVENTS)]


class LogFollower:
    """Reads the records another process appends to a run's events.jsonl, as events, as they come."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "events.jsonl"
        self.offset = 0
        self.partial = b""  # a line the writer has not finished yet

    def poll(self) -> list:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        events = []
        for line in lines:
            try:
                event = rebuild(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue  # a damaged record: skip it, keep following
            if event is not None:
                events.append(event)
        return events


def truncate_log(run_dir: Path, iteration: int) -> None:
    """Keep the records up to `iteration` (resuming from a checkpoint there must not repeat later ones)."""
    kept = [r for r in read_events(run_dir) if r.get("iteration", 0) <= iteration]
    data = "".join(json.dumps(r) + "\n" for r in kept)
    write_bytes_atomic(Path(run_dir) / "events.jsonl", data.encode())
