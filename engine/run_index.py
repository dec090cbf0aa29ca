"""The runs under a runs root, summarised for a run browser, with the curves to draw them."""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import events as ev
from .files import open_regular
from .records import MAX_LINE, MAX_NAME, Skipped, count, number, read_log, text
from .run_lock import holder
from .runs import CONFIG_FILE, EVENTS_FILE

STAMP = "%Y%m%dT%H%M%SZ"  # how new_run_dir names runs
STATES = {ev.Paused: "paused", ev.Resumed: "running"}  # the others by their event's name


@dataclass
class RunRecord:
    path: Path
    started: datetime
    dataset: str = "?"
    architecture: str = "?"
    settings: str = ""  # how its config.json says to train: "sgd lr 0.1 b100" (b: batch size)
    iteration: int = 0
    best_test_acc: float | None = None
    state: str = "new"  # new / running / paused / stopped / finished / diverged / failed / unreadable
    iterations: list[int] = field(default_factory=list)  # the loss curve
    losses: list[float] = field(default_factory=list)
    accuracy: list[tuple[int, float, float]] = field(default_factory=list)  # (iteration, train, test)
    damaged: int = 0  # records of its log skipped as damaged

    @property
    def name(self) -> str:
        return self.path.name


def list_runs(root: str | Path) -> list[RunRecord]:
    """Every run directory under `root`, newest first (an empty list when there is none)."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if (p / "checkpoints").is_dir()]
    return sorted(runs, key=lambda r: (r.started, r.name), reverse=True)


def read_run(path: Path) -> RunRecord:
    """One run's summary and curves from its config and event log; a damaged log says so in `state`."""
    record = RunRecord(path, _started(path))
    try:
        with open_regular(path / CONFIG_FILE) as f:
            config = json.loads(f.read(MAX_LINE))
        record.dataset = text(config["dataset"], "dataset", MAX_NAME)
        record.settings = (f"{text(config['optimizer'], 'optimizer', MAX_NAME)} lr {number(config['lr'], 'lr'):g} "
                           f"b{count(config['batch_size'], 'batch_size')}")
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass  # shown as "?": the log below may still say what the run is
    last_state, skipped = "new", Skipped()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a cut-short last line (a killed writer) is normal here
            for e in read_log(path / EVENTS_FILE, skipped):
                if isinstance(e, ev.BatchDone):
                    record.iterations.append(e.iteration)
                    record.losses.append(e.loss)
                elif isinstance(e, (ev.EpochDone, ev.Evaluated)):
                    record.accuracy.append((e.iteration, e.train_acc, e.test_acc))
                elif isinstance(e, ev.Started):
                    record.architecture, record.dataset, last_state = e.architecture, e.dataset, "running"
                elif isinstance(e, (ev.Paused, ev.Resumed, ev.Finished, ev.Diverged, ev.Failed)):
                    last_state = STATES.get(type(e), type(e).__name__.lower())
    except FileNotFoundError:
        pass
    except OSError:  # a directory, a forbidden file
        record.state = "unreadable"
        return record
    record.damaged = skipped.count
    record.iteration = record.iterations[-1] if record.iterations else 0
    tests = [a[2] for a in record.accuracy if math.isfinite(a[2])]
    record.best_test_acc = max(tests) if tests else None
    if last_state in ("running", "paused") and holder(path) is None:
        last_state = "stopped"  # its process ended without finishing: resumable
    record.state = last_state
    return record


def _started(path: Path) -> datetime:
    try:
        return datetime.strptime(path.name[:16], STAMP).replace(tzinfo=timezone.utc)
    except ValueError:  # renamed by hand: when its config was written
        try:
            return datetime.fromtimestamp((path / "config.json").stat().st_mtime, timezone.utc)
        except OSError:
            return datetime.fromtimestamp(0, timezone.utc)
