"""The runs under a runs root, summarised for a run browser, with the curves to draw them."""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .run_lock import holder
from .runs import read_events

STAMP = "%Y%m%dT%H%M%SZ"  # how new_run_dir names runs


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
        config = json.loads((path / "config.json").read_text())
        record.dataset = config["dataset"]
        record.settings = f"{config['optimizer']} lr {config['lr']:g} b{config['batch_size']}"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    last_state = "new"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a cut-short last line (a killed writer) is normal here
            for r in read_events(path):
                kind = r.get("event")  # (a record that is not an object raises: the log is not ours)
                if kind == "BatchDone":
                    record.iterations.append(int(r["iteration"]))
                    record.losses.append(float(r["loss"]))
                elif kind in ("EpochDone", "Evaluated"):
                    record.accuracy.append((int(r["iteration"]), float(r["train_acc"]), float(r["test_acc"])))
                elif kind == "Started":
                    record.architecture = r.get("architecture", record.architecture)
                    record.dataset = r.get("dataset", record.dataset)
                    last_state = "running"
                elif kind in ("Paused", "Resumed", "Finished", "Diverged", "Failed"):
                    last_state = {"Paused": "paused", "Resumed": "running"}.get(kind, kind.lower())
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        record.state = "unreadable"
        return record
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
