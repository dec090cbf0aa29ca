"""Run directories: an append-only event log and rotating checkpoints, so nothing is lost to a kill.

<runs root>/<UTC timestamp>-<short name>/
    config.json          the settings the run started with, and where its data came from (written atomically)
    events.jsonl         one JSON object per event; batch and layer-stat records are written in blocks,
                         flushed at least every second and at once on any other event; consecutive
                         batches are one Batches record (older logs hold a BatchDone record per batch)
    checkpoints/ckpt-<iteration>.npz         the last KEEP (--keep-checkpoints) automatic checkpoints
                                             (at an epoch end once CHECKPOINT_EVERY seconds have
                                             passed since the last, and where the run stopped)
    checkpoints/ckpt-<iteration>-manual.npz  checkpoints asked for by hand (key c): never rotated
    samples.npz          the latest preview digits with the network's predictions, for attached monitors
    summary.jsonl        what the run browser lists and draws, bounded (engine/run_summary.py; atomically)
    commands.jsonl       the command channel (engine/control.py)
    lock                 held (flock) by the process that trains the run (engine/run_lock.py)

Every file and folder of a run is the owner's only (0600 / 0700): a run's log and commands are
not for other users of a shared machine, and one rule means no file changes mode on a resume.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import events as ev
from . import npz
from .atomic import remove_stale_temp_files, write_bytes_atomic, write_with
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .control import CommandInbox
from .files import open_regular
from .records import MAX_BATCHES, MAX_COUNT, MAX_LINE, MAX_TEXT, DamagedRecord, Skipped, parse, plain, read_log
from .run_summary import SUMMARY_FILE, SummaryBuilder, read_summary, summarise_log, write_summary

FLUSH_EVERY = 1.0  # seconds: the most batch records a kill can lose
HOUSEKEEPING = 0.2  # seconds between looks at the command file and at records waiting to be written
KEEP = 3  # checkpoints kept per run, unless told otherwise
CHECKPOINT_EVERY = 30.0  # seconds: the least time between two epoch checkpoints (each is an fsync'd file)


@dataclass(frozen=True)
class CheckpointPolicy:
    """How often a run saves itself, and how many of those checkpoints it keeps (the newest)."""

    keep: int = KEEP
    every: float = CHECKPOINT_EVERY  # seconds; 0: at every epoch end
# Images and whole-test-set predictions are not metrics (and too big); the checkpoint has the network.
NOT_LOGGED = (ev.Samples, ev.TestPredictions, ev.WeightImages, ev.Parameters, ev.DownloadProgress)
BUFFERED = (ev.BatchDone, ev.LayerStats)  # frequent records, written in blocks (the others at once, durably)
SAMPLES_FILE = "samples.npz"
EVENTS_FILE = "events.jsonl"
CONFIG_FILE = "config.json"
MANUAL = "-manual"  # the suffix of a checkpoint asked for by hand
FILE_MODE, FOLDER_MODE = 0o600, 0o700  # owner-only (atomic writes make 0600 files too)
MAX_SAMPLES_BYTES = 64 << 20  # a preview is a few hundred digits: far less
MAX_CLASSES = 1000
# Seconds: the summary is rewritten at most this often while records come (at once on a change of state),
# so a running run's row in the run browser lags by about this much, and a short epoch costs no fsync.
SUMMARY_EVERY = 1.0
SUMMARY_NOW = (ev.Started, ev.Paused, ev.Resumed, ev.Finished, ev.Diverged, ev.Failed)  # changes of state
READ_LIMIT = 1 << 20  # bytes of log a follower reads per poll: about 30,000 batches of a run (8,000 of an older log)
EPOCH_TOLERANCE = 1e-9  # how far a batch's epoch may be from its Batches record's line


def new_run_dir(root: str | Path, config: TrainConfig, architecture: str, data_dir: str | Path | None = None) -> Path:
    """A new run's folder with its config.json; `data_dir`: the folder its data was read from, if not the cache.

    Raises OSError when the runs folder cannot be made or written.
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    Path(root).mkdir(parents=True, exist_ok=True)
    base = Path(root) / f"{stamp}-{config.dataset}-{architecture}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(mode=FOLDER_MODE)
            break
        except FileExistsError:  # two runs started in the same second
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    (path / "checkpoints").mkdir(mode=FOLDER_MODE)
    record = {**asdict(config), "data_dir": None if data_dir is None else str(Path(data_dir).resolve())}
    write_bytes_atomic(path / CONFIG_FILE, json.dumps(record, indent=2).encode())
    return path


def runs_dir_problem(root: str | Path) -> str | None:
    """Why runs cannot be made under `root` (None when they can), without making anything yet."""
    folder = Path(root).absolute()
    while not folder.exists() and folder != folder.parent:  # the nearest folder that exists would hold it
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} cannot be written: permission denied"
    return None


def recorded_data_dir(run_dir: Path) -> str | None:
    """The folder the run's data was read from, as its config.json records it (None: the cache, or not recorded)."""
    try:
        with open_regular(Path(run_dir) / CONFIG_FILE) as f:
            value = json.loads(f.read(MAX_LINE)).get("data_dir")  # bounded: the file may not be ours
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) and value and len(value) <= MAX_TEXT and plain(value) == value else None


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
        elif isinstance(value, np.ndarray):  # a Batches record's losses
            value = _float32_texts(value)
        record[f.name] = value
    return record


def _float32_texts(values: np.ndarray) -> list:
    """Each value rounded to float32, as the float whose repr is the float32's shortest (2.3025851, not
    2.302585124969482), so a loss takes about 11 bytes of JSON; nan and ±inf as text, as event_record has them."""
    values = np.asarray(values, dtype=np.float32)
    return [float(text) if finite else text for text, finite in zip(map(str, values), np.isfinite(values).tolist())]


def log_line(event) -> str:
    """An event as a line of events.jsonl (without its newline)."""
    return json.dumps(event_record(event))


class BatchBlock:
    """BatchDone events gathered into one Batches record while they follow on: the next iteration, the same
    learning rate, the epoch on the block's line (an epoch's end or a new batch size starts another block)."""

    def __init__(self):
        self.batches: list[ev.BatchDone] = []

    def __len__(self) -> int:
        return len(self.batches)

    def takes(self, batch: ev.BatchDone) -> bool:
        """Whether `batch` can join the block (an empty block takes any)."""
        if not self.batches:
            return True
        first, last = self.batches[0], self.batches[-1]
        step = (self.batches[1] if len(self.batches) > 1 else batch).epoch - first.epoch
        return (len(self.batches) < MAX_BATCHES and batch.iteration == last.iteration + 1 and batch.lr == first.lr
                and step >= 0 and abs(first.epoch + step * len(self.batches) - batch.epoch) <= EPOCH_TOLERANCE)

    def add(self, batch: ev.BatchDone) -> None:
        self.batches.append(batch)

    def take(self) -> ev.Batches | None:
        """The block as a record, and an empty block in its place (None when it was empty)."""
        if not self.batches:
            return None
        batches, self.batches = self.batches, []
        first = batches[0]
        step = batches[1].epoch - first.epoch if len(batches) > 1 else 0.0
        losses = np.array([b.loss for b in batches], dtype=np.float32).astype(np.float64)
        losses.flags.writeable = False
        return ev.Batches(first.iteration, losses, first.lr, first.epoch, step, batches[-1].samples_per_s)


class RunLog:
    """A trainer sink that appends events to events.jsonl, then hands them on to `forward`.

    It also asks the trainer for a checkpoint at the first epoch end `policy.every` seconds
    after the last checkpoint and keeps the last `policy.keep` of those (checkpoints asked for by hand are kept apart: never rotated away), and once attached
    to a trainer, runs the commands of the run's channel (engine/control.py) and writes out
    batch records that wait longer than FLUSH_EVERY (a paused run gets no further events to
    flush them), from a housekeeping thread. It keeps the run's summary file (engine/run_summary.py) of
    what the log holds: at each change of state, at epoch ends and while batches come at most once every
    SUMMARY_EVERY seconds, and on close.

    A write that fails (a full disk, a read-only or forbidden folder) pauses the run and is
    forwarded as WriteFailed, once; the log is cut back to its last whole record, the records
    not yet written are kept, and the next event after Resumed (or the next look) tries again.
    """

    def __init__(self, run_dir: Path, forward: Callable[[object], None] = lambda event: None,
                 policy: CheckpointPolicy = CheckpointPolicy()):
        self.run_dir = run_dir
        self.policy = policy
        self._last_checkpoint = time.monotonic()  # a run starts from a checkpoint, or from nothing to lose
        self.forward = forward
        self.trainer = None  # set by attach(); needed to request checkpoints and to pause
        self.inbox: CommandInbox | None = None
        self._housekeeper: threading.Thread | None = None
        self._closed = threading.Event()
        self._fd = os.open(run_dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                           | os.O_CLOEXEC, FILE_MODE)
        self._size = os.fstat(self._fd).st_size  # the log's length up to its last whole record
        self._pending: list[str] = []  # lines to write ...
        self._block = BatchBlock()  # ... and the batches that will follow them as one
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self.failure: ev.WriteFailed | None = None  # the latest write that failed, until the run resumes
        self._log_broken = False  # the latest append to the log failed: the housekeeper leaves it be
        self._checkpoint_owed = False  # the epoch checkpoint failed: ask again on resume
        # Saves cut short by a kill leave temp files; none can be under way: the opener holds the run's lock.
        remove_stale_temp_files(run_dir / "checkpoints", CHECKPOINT_NAME)
        remove_stale_temp_files(run_dir, re.compile(re.escape(SUMMARY_FILE)))
        self._summary = self._summary_so_far()
        self._summary_lock = threading.Lock()  # one summary write at a time, the newest last
        self._summary_changed = True  # since it was last written
        self._summary_written = -math.inf  # when (time.monotonic())

    def attach(self, trainer, commands_from: int | None = None) -> None:
        """Log `trainer`'s run: request its per-epoch checkpoints and take commands for it.

        `commands_from`: the command file's length when this process took the run's lock
        (commands sent since then are for it); by default (or None), from when the file is first read.
        What goes wrong with the channel is forwarded as ChannelProblem; the run goes on.
        """
        self.trainer = trainer
        self.inbox = CommandInbox(self.run_dir, trainer, self.manual_checkpoint_path, commands_from,
                                  warn=lambda message: self.forward(ChannelProblem(message)))
        self._housekeeper = threading.Thread(target=self._housekeeping, name="backprop-runlog", daemon=True)
        self._housekeeper.start()

    def _summary_so_far(self) -> SummaryBuilder:
        """The summary of the log as it is: none yet, the summary file when it is of this very log (a resume
        cuts both back together), else made by reading the log."""
        if self._size == 0:
            return SummaryBuilder()
        try:
            summary, curves = read_summary(self.run_dir)
            if summary.log_size == self._size:
                return SummaryBuilder(summary, curves)
        except (OSError, DamagedRecord):
            pass
        return summarise_log(self.run_dir / EVENTS_FILE)

    def _housekeeping(self) -> None:
        while not self._closed.wait(HOUSEKEEPING):
            self.inbox.poll()
            with self._lock:
                if ((self._pending or self._block) and not self._log_broken
                        and time.monotonic() - self._last_flush >= FLUSH_EVERY):
                    self._flush(durable=False)
            if self._summary_changed:
                self.save_summary(if_due=True)

    def save_summary(self, if_due: bool = False) -> None:
        """Write the summary of what the log holds (the records waiting are written first); `if_due`: only if
        the last write was SUMMARY_EVERY ago or more. Never raises: the summary is a cache of the log, and a
        summary that failed to be written is seen as stale (its log_size is not the log's)."""
        if not self._summary_lock.acquire(blocking=not if_due):
            return  # one is being written: the housekeeper writes this one later (an epoch end never waits)
        try:
            if if_due and time.monotonic() - self._summary_written < SUMMARY_EVERY:
                return
            with self._lock:
                if (self._pending or self._block) and self._fd is not None and not self._log_broken:
                    self._flush(durable=False)
                if self._pending or self._block:  # the log cannot be written: a summary would say more than it holds
                    return
                data = self._summary.encode(self._size)
                self._summary_changed = False
            self._summary_written = time.monotonic()
            try:
                write_summary(self.run_dir, data)
            except OSError:
                self._summary_changed = True  # tried again with the next change of state, or by the housekeeper
        finally:
            self._summary_lock.release()

    def __call__(self, event) -> None:
        if isinstance(event, ev.Resumed):
            self.failure = None  # the user may have made room: try again
        if not isinstance(event, NOT_LOGGED):
            with self._lock:
                if self._fd is None:
                    return  # a straggler from a worker still stopping after close()
                if not isinstance(event, ev.BatchDone) or not self._block.takes(event):
                    self._end_block()
                if isinstance(event, ev.BatchDone):
                    self._block.add(event)
                else:
                    self._pending.append(log_line(event))
                self._summary.fold(event)
                self._summary_changed = True
                now = time.monotonic()
                if not isinstance(event, BUFFERED) or now - self._last_flush >= FLUSH_EVERY:
                    self._flush(durable=not isinstance(event, BUFFERED))
            if isinstance(event, (SUMMARY_NOW, ev.EpochDone, ev.Evaluated)):
                self.save_summary(if_due=not isinstance(event, SUMMARY_NOW))  # more epochs than one a second: later
        if isinstance(event, ev.BatchDone) and event.epoch.is_integer() and self.trainer is not None:
            # The batch that ends an epoch (its score comes later, from the scorer): saved before the next batch.
            if time.monotonic() - self._last_checkpoint >= self.policy.every:
                self.trainer.request_checkpoint(self.checkpoint_path)
        elif isinstance(event, ev.CheckpointSaved):
            self._checkpoint_owed = False
            self._last_checkpoint = time.monotonic()
            self.prune()
        elif isinstance(event, ev.WriteFailed):  # a checkpoint the trainer could not write
            self._checkpoint_owed = True
            self._failed(event)
            return  # _failed forwarded it
        elif isinstance(event, ev.Resumed) and self._checkpoint_owed and self.trainer is not None:
            self.trainer.request_checkpoint(self.checkpoint_path)
        elif isinstance(event, ev.Samples) and not self._closed.is_set():
            path = self.run_dir / SAMPLES_FILE
            try:
                save_samples(path, event)
            except OSError as exc:
                self._failed(ev.WriteFailed(str(path), exc.strerror or str(exc)))
        self.forward(event)

    def checkpoint_path(self, iteration: int) -> Path:
        """An automatic checkpoint's path (rotated: the newest `keep` stay).

        The trainer asks for it just before it saves, so the log's buffered records are written out
        first: a checkpoint is never ahead of the log (killed in between, a resume would leave a gap)."""
        self._flush_before_checkpoint()
        return self.run_dir / "checkpoints" / f"ckpt-{iteration:09d}.npz"

    def manual_checkpoint_path(self, iteration: int) -> Path:
        """A checkpoint asked for by hand (key c, or through the command channel): kept until deleted by hand.
        The log is written out first, as for checkpoint_path."""
        self._flush_before_checkpoint()
        return self.run_dir / "checkpoints" / f"ckpt-{iteration:09d}{MANUAL}.npz"

    def _flush_before_checkpoint(self) -> None:
        with self._lock:
            if self._fd is not None:
                self._flush(durable=True)

    def save_now(self, checkpoint: Checkpoint, manual: bool = False) -> Path:
        """Save from the caller's thread (when no worker runs, e.g. after Finished); raises OSError."""
        path = (self.manual_checkpoint_path if manual else self.checkpoint_path)(checkpoint.iteration)
        save_checkpoint(path, checkpoint)
        self.prune()
        return path

    def prune(self) -> None:
        automatic = [p for p in checkpoints(self.run_dir) if not p.stem.endswith(MANUAL)]
        for old in automatic[:-self.policy.keep]:
            old.unlink(missing_ok=True)

    def _end_block(self) -> None:
        """The batches gathered so far become a pending line (caller holds the lock)."""
        if (block := self._block.take()) is not None:
            self._pending.append(log_line(block))

    def _flush(self, durable: bool) -> None:
        """Append the pending records (caller holds the lock); on failure cut the log back and pause."""
        self._end_block()
        try:
            if self._pending:
                data = ("\n".join(self._pending) + "\n").encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
                self._size += len(data)
                self._pending.clear()
            if durable:
                os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._size)  # no half record: the records stay pending
            except OSError:
                pass
            self._log_broken = True
            self._failed(ev.WriteFailed(str(self.run_dir / EVENTS_FILE), exc.strerror or str(exc)))
        else:
            self._log_broken = False
        self._last_flush = time.monotonic()

    def _failed(self, failure: ev.WriteFailed) -> None:
        """Pause the run and say so, once for the same failure until the run resumes."""
        if failure == self.failure:
            return
        self.failure = failure
        if self.trainer is not None:
            self.trainer.pause()
        self.forward(failure)

    def flush(self) -> None:
        """Write out buffered batch records now (from any thread)."""
        with self._lock:
            if self._fd is not None:
                self._flush(durable=False)

    def close(self) -> None:
        """Stop taking commands, write what is pending (if the disk lets it) and the summary, and close the log."""
        self._closed.set()
        if self._housekeeper is not None and self._housekeeper is not threading.current_thread():
            self._housekeeper.join(timeout=2 * HOUSEKEEPING)  # no command runs after close
        with self._lock:
            if self._fd is None:
                return
            self._flush(durable=True)
            os.close(self._fd)
            self._fd = None
        if self._summary_changed:
            self.save_summary()


def save_samples(path: Path, samples: ev.Samples) -> None:
    arrays = {name: getattr(samples, name) for name in ("images", "labels", "predictions", "probabilities")}
    write_with(path, lambda f: np.savez(f, iteration=np.array(samples.iteration), **arrays))


def load_samples(path: Path) -> ev.Samples | None:
    """The preview digits a run saved last; None when absent, unreadable (being replaced) or not what a
    run writes: shapes, dtypes and ranges are checked, and it is never bigger than MAX_SAMPLES_BYTES."""
    try:
        arrays = npz.load(path, MAX_SAMPLES_BYTES)
        images, labels, predictions, probabilities = (arrays[k] for k in ("images", "labels", "predictions",
                                                                          "probabilities"))
        n, classes = len(labels), probabilities.shape[-1]
        well_formed = (images.ndim == 3 and images.dtype.kind in "uif" and labels.shape == predictions.shape == (n,)
                       and labels.dtype.kind in "iu" and predictions.dtype.kind in "iu" and len(images) == n
                       and probabilities.shape == (n, classes) and probabilities.dtype.kind == "f"
                       and arrays["iteration"].shape == () and arrays["iteration"].dtype.kind in "iu"
                       and 0 < classes <= MAX_CLASSES and all(0 <= a.min() and a.max() < classes
                                                               for a in (labels, predictions) if n)
                       and np.isfinite(probabilities).all() and (images.dtype.kind != "f" or np.isfinite(images).all()))
        if not well_formed or not 0 <= int(arrays["iteration"]) <= MAX_COUNT:
            return None
    except (OSError, ValueError, KeyError, IndexError):  # npz.NpzError is a ValueError
        return None
    return ev.Samples(images=ev.frozen_copy(images), labels=ev.frozen_copy(labels),
                      predictions=ev.frozen_copy(predictions), probabilities=ev.frozen_copy(probabilities),
                      iteration=int(arrays["iteration"]))


CHECKPOINT_NAME = re.compile(r"ckpt-(\d+)(-manual)?\.npz")


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, automatic and manual, oldest first (by iteration)."""
    found = [(int(m[1]), m[2] is not None, p) for p in (Path(run_dir) / "checkpoints").glob("ckpt-*.npz")
             if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return [p for *_, p in sorted(found)]


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


def read_events(run_dir: Path, skipped: Skipped | None = None) -> Iterator[dict]:
    """The run's event records in order, each checked (engine/records.py) and written out again as it
    would be logged, a Batches record as a BatchDone record per batch (as older logs hold them); damaged
    ones are skipped and counted in `skipped`, a cut-short last line warned of."""
    for event in read_log(Path(run_dir) / EVENTS_FILE, skipped):
        yield from map(event_record, event.batch_events() if isinstance(event, ev.Batches) else (event,))


def resolve_run(name: str | Path, runs_dir: str | Path = "runs") -> Path:
    """A run directory given as a path, or by its name inside `runs_dir`."""
    if not str(name).strip():
        raise CheckpointError("no run named: give a run directory, or its name in the runs folder")
    for candidate in (Path(name), Path(runs_dir) / name):
        if (candidate / "checkpoints").is_dir():
            return candidate
    raise CheckpointError(f"no run directory {str(name)!r} (looked in . and {runs_dir})")


METRIC_EVENTS = (ev.BatchDone, ev.Batches, ev.EpochDone, ev.Evaluated, ev.ParamChanged, ev.GradCheckDone, ev.LayerStats)


def history(run_dir: Path, skipped: Skipped | None = None) -> list:
    """The metric events of the run's log, checked, to replay a run's curves (grad checks and layer stats
    included); damaged records are skipped and counted in `skipped`."""
    return [e for e in read_log(Path(run_dir) / EVENTS_FILE, skipped) if isinstance(e, METRIC_EVENTS)]


@dataclass(frozen=True)
class ChannelProblem:
    """The run's command file was refused, lines of it skipped or a command failed; the run goes on."""

    message: str


@dataclass(frozen=True)
class RecordsSkipped:
    """Damaged records were skipped in a run's log: how many so far, and the first one's place and reason."""

    count: int
    first: str

    def __str__(self) -> str:
        return str(Skipped(self.count, self.first))


@dataclass(frozen=True)
class LogReplaced:
    """The followed log was rewritten (a resume cut it back to its checkpoint): it is read again from the start."""


@dataclass(frozen=True)
class LogUnreadable:
    """The followed log cannot be read (a symlink, not a regular file, forbidden); it is tried again."""

    reason: str


class LogFollower:
    """Reads the records another process appends to a run's events.jsonl, as events, as they come.

    A long history is read READ_LIMIT bytes per poll, so a monitor polling it on its UI thread
    stays responsive while it catches up (200k iterations are about 7 MB of log, 32 MB in older logs).

    It also hands on the run's latest preview digits (samples.npz) each time they are replaced.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self.offset = 0
        self.partial = b""  # a line the writer has not finished yet
        self.overlong = False  # the line being read is longer than MAX_LINE: skip it to its newline
        self.skipped = Skipped()
        self.line_number = 0  # of the last whole line read
        self.unreadable: str | None = None  # why the log could not be read at the last poll
        self.inode: int | None = None
        self.caught_up = False  # the whole log has been read once (it may grow later)
        self.samples_stamp: tuple | None = None

    def poll(self) -> list:
        events = self._log_events()
        samples = self._new_samples()
        return events + [samples] if samples is not None else events

    def _log_events(self) -> list:
        try:
            with open_regular(self.path) as f:
                stat = os.fstat(f.fileno())
                replaced = self.inode is not None and (stat.st_ino != self.inode or stat.st_size < self.offset)
                if replaced:
                    self.offset, self.partial, self.caught_up, self.overlong = 0, b"", False, False
                    self.skipped, self.line_number = Skipped(), 0
                self.inode = stat.st_ino
                f.seek(self.offset)
                data = f.read(READ_LIMIT)
        except FileNotFoundError:
            return []
        except OSError as exc:  # a symlink, a FIFO, a directory, forbidden: said once, tried again next poll
            reason = exc.strerror or str(exc)
            unreadable, self.unreadable = reason != self.unreadable, reason
            return [LogUnreadable(plain(f"{self.path}: {reason}"))] if unreadable else []
        self.unreadable = None
        self.offset += len(data)
        self.caught_up |= len(data) < READ_LIMIT
        *lines, self.partial = (self.partial + data).split(b"\n")
        if self.overlong:  # the rest of a line too long to hold
            if not lines:
                self.partial = b""
                return []
            lines[0], self.overlong = None, False
        if len(self.partial) > MAX_LINE:  # never held whole: skipped up to its newline
            self.partial, self.overlong = b"", True
        events = [LogReplaced()] if replaced else []
        before = self.skipped.count
        for line in lines:
            self.line_number += 1
            try:
                if line is None:
                    raise DamagedRecord(f"a line of over {MAX_LINE:,} bytes")
                if line.strip():
                    events.append(parse(line))
            except DamagedRecord as exc:
                self.skipped.add(f"line {self.line_number:,}", str(exc))
        if self.skipped.count > before:
            events.append(RecordsSkipped(self.skipped.count, self.skipped.first))
        return events

    def _new_samples(self) -> ev.Samples | None:
        try:
            stat = (self.run_dir / SAMPLES_FILE).stat()
        except OSError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # each atomic replace is a new inode
        if stamp == self.samples_stamp:
            return None
        samples = load_samples(self.run_dir / SAMPLES_FILE)
        if samples is not None:  # a file that does not load yet is tried again
            self.samples_stamp = stamp
        return samples


def truncate_log(run_dir: Path, iteration: int) -> Skipped:
    """Keep the valid records up to `iteration` (resuming from a checkpoint there must not repeat later
    ones), and the summary of those; damaged records are dropped and counted. A missing log starts empty;
    CheckpointError when the log is not a file."""
    path = Path(run_dir) / EVENTS_FILE
    skipped = Skipped()
    if path.is_symlink() or path.exists() and not path.is_file():
        raise CheckpointError(f"{path}: not a regular file, so the run's log cannot be continued")
    kept, summary = [], SummaryBuilder()
    try:
        for event in read_log(path, skipped):
            if isinstance(event, ev.Batches):
                event = event.until(iteration)
            if event is not None and getattr(event, "iteration", 0) <= iteration:
                kept.append(log_line(event) + "\n")
                summary.fold(event)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    data = "".join(kept).encode()
    write_bytes_atomic(path, data)
    try:
        write_summary(run_dir, summary.encode(len(data)))
    except OSError:
        pass  # a cache of the log: the run's RunLog makes it again from the log
    return skipped
