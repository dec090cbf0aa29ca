"""The runs under a runs root, listed for a run browser from their summary files, with their curves on demand.

A run is listed from its summary (engine/run_summary.py) when that is of its log as it is now, or when a
process trains it (its summary lags by a second or so). Otherwise (a run from before summaries, one killed
between two summary writes, a damaged summary) its log is read whole, and the summary made from it is
written into the run's folder, so the next listing is quick, when the folder is this user's own: a real
folder (not a symlink), owned by this user and writable, with no process training the run, and only if the
log did not change while it was read.
"""
from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .files import open_regular
from .records import MAX_LINE, MAX_NAME, DamagedRecord, count, number, text
from .run_lock import holder
from .run_summary import (
    SUMMARY_FILE,
    Curves,
    Summary,
    SummaryBuilder,
    read_row,
    read_summary,
    summarise_log,
    write_summary,
)
from .runs import CONFIG_FILE, EVENTS_FILE

STAMP = "%Y%m%dT%H%M%SZ"  # how new_run_dir names runs
STAMPED = re.compile(r"\d{8}T\d{6}Z")  # a name that begins with one
LIVE = ("running", "paused")  # states a process that holds the run's lock is in


@dataclass
class RunRecord:
    path: Path
    started: datetime
    dataset: str = "?"
    architecture: str = "?"
    settings: str = ""  # how it was set to train: "sgd lr 0.1 b100" (b: batch size)
    iteration: int = 0
    best_test_acc: float | None = None
    state: str = "new"  # new / running / paused / stopped / finished / diverged / failed / unreadable
    damaged: int = 0  # records of its log skipped as damaged
    summary_problem: str = ""  # why its summary file could not be used, when it is damaged
    stamp: tuple | None = None  # its summary file's (inode, mtime, size) when read: another means news
    curves: Curves | None = None  # None until loaded (load_curves)

    @property
    def name(self) -> str:
        return self.path.name


def list_runs(root: str | Path) -> list[RunRecord]:
    """Every run directory under `root`, newest first (an empty list when there is none)."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if os.path.isdir(os.path.join(p, "checkpoints"))]
    return sorted(runs, key=lambda r: (r.started, r.name), reverse=True)


def read_run(path: Path) -> RunRecord:
    """One run as listed: from its summary when that can be used, else from its log (curves included)."""
    record = RunRecord(path, started(path), stamp=_summary_stamp(path))
    try:
        summary = read_row(path)
    except FileNotFoundError:
        summary = None
    except (OSError, DamagedRecord) as exc:  # a symlink, a directory, forbidden; not a summary
        summary, record.summary_problem = None, _why(exc)
    if summary is not None and _usable(path, summary):
        return _listed(record, summary)
    return _read_log(record)


def refresh(runs: list[RunRecord]) -> list[RunRecord]:
    """Those of `runs` with news, read again: their summary file was replaced (a running run writes it about
    once a second), or the process that trained them ended. A stat per run, a lock test per running one."""
    return [read_run(run.path) for run in runs
            if _summary_stamp(run.path) != run.stamp or run.state in LIVE and holder(run.path) is None]


def load_curves(run: RunRecord) -> tuple[Curves, str]:
    """The run's curves, and why its summary could not give them ("" when it did): from its summary, else
    from its log (empty when neither can be read)."""
    problem = ""
    try:
        summary, curves = read_summary(run.path)
        if _usable(run.path, summary):
            return curves, ""
    except FileNotFoundError:
        pass
    except (OSError, DamagedRecord) as exc:
        problem = _why(exc)
    try:
        return summarise_log(run.path / EVENTS_FILE).curves, problem
    except OSError:
        return Curves(), problem


def _usable(run_dir: Path, summary: Summary) -> bool:
    """Whether `summary` tells the run as it is: it is of the log as it is, or of a run being trained."""
    return summary.log_size == _log_size(run_dir) or holder(run_dir) is not None


def _why(exc: OSError | DamagedRecord) -> str:
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)


def _listed(record: RunRecord, summary: Summary) -> RunRecord:
    record.iteration, record.best_test_acc, record.damaged = summary.iteration, summary.best_test_acc, summary.damaged
    record.state = summary.state
    if record.state in LIVE and holder(record.path) is None:
        record.state = "stopped"  # its process ended without finishing: resumable
    if summary.dataset is None:  # no Started record yet: its config.json says what the run is
        _from_config(record)
    else:
        record.dataset, record.architecture = summary.dataset, summary.architecture
        record.settings = _settings(summary.optimizer, summary.lr, summary.batch_size)
    return record


def _read_log(record: RunRecord) -> RunRecord:
    log = record.path / EVENTS_FILE
    before = _stamp(log)
    try:
        builder = summarise_log(log)
    except FileNotFoundError:
        builder = SummaryBuilder()
    except OSError:  # a directory, a forbidden file
        _from_config(record)
        record.state = "unreadable"
        return record
    record = _listed(record, builder.summary)
    record.curves = builder.curves
    if before is not None and _stamp(log) == before and _ours(record.path):
        try:
            write_summary(record.path, builder.encode(before[2]))
            record.stamp = _summary_stamp(record.path)
        except OSError:
            pass  # listed all the same, from its log again next time
    return record


def _ours(path: Path) -> bool:
    """Whether this process may write a summary into the run folder `path` (see the module's docstring)."""
    try:
        folder = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(folder.st_mode) and folder.st_uid == os.getuid() and os.access(path, os.W_OK | os.X_OK)
            and holder(path) is None)


def _from_config(record: RunRecord) -> None:
    try:
        with open_regular(record.path / CONFIG_FILE) as f:
            config = json.loads(f.read(MAX_LINE))
        record.dataset = text(config["dataset"], "dataset", MAX_NAME)
        record.settings = _settings(text(config["optimizer"], "optimizer", MAX_NAME), number(config["lr"], "lr"),
                                    count(config["batch_size"], "batch_size"))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass  # shown as "?"


def _settings(optimizer: str, lr: float, batch_size: int) -> str:
    return f"{optimizer} lr {lr:g} b{batch_size}"


def _stamp(path: str | Path) -> tuple[int, int, int] | None:
    """(inode, mtime, size) of `path` itself (a symlink is not followed); None when there is none."""
    try:
        s = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return s.st_ino, s.st_mtime_ns, s.st_size


def _summary_stamp(run_dir: Path) -> tuple[int, int, int] | None:
    return _stamp(os.path.join(run_dir, SUMMARY_FILE))  # (a str: pathlib's / costs more than the stat here)


def _log_size(run_dir: Path) -> int | None:
    """The log's length: 0 when there is none, None when it is not a regular file."""
    try:
        s = os.stat(os.path.join(run_dir, EVENTS_FILE), follow_symlinks=False)
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    return s.st_size if stat.S_ISREG(s.st_mode) else None


def started(path: Path) -> datetime:
    """When the run began: the UTC timestamp its folder's name begins with, else its config's mtime."""
    if STAMPED.match(path.name):  # (fromisoformat reads this form 150 times faster than strptime)
        try:
            return datetime.fromisoformat(path.name[:16])
        except ValueError:  # a 13th month
            pass
    try:  # renamed by hand: when its config was written
        return datetime.fromtimestamp((path / CONFIG_FILE).stat().st_mtime, timezone.utc)
    except OSError:
        return datetime.fromtimestamp(0, timezone.utc)
