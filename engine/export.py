"""Export a run's metrics for pandas, trackio and spreadsheets: one row per step, and one per grad-check tensor.

metrics.csv / metrics.jsonl: step, epoch, loss, lr, train_acc, test_acc (empty / null where a row has no
such value: accuracy exists only where an evaluation ran). The iteration is called `step`, the name
trackio's import_csv requires and TensorBoard and W&B use; every other column is a number.
gradcheck.csv / gradcheck.jsonl: step, name, shape, count, checked, mean_abs_diff, max_abs_diff,
max_rel_error, kinks, kink_failures, passed.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .atomic import write_bytes_atomic
from .records import Skipped
from .runs import read_events

METRICS = ("step", "epoch", "loss", "lr", "train_acc", "test_acc")
GRADCHECK = ("step", "name", "shape", "count", "checked", "mean_abs_diff", "max_abs_diff",
             "max_rel_error", "kinks", "kink_failures", "passed")


def tables(run_dir: Path, skipped: Skipped | None = None) -> tuple[list[dict], list[dict]]:
    """(metric rows by iteration, grad-check rows) from the run's event log; damaged records are skipped
    and counted in `skipped`."""
    metrics: dict[int, dict] = {}
    gradcheck: list[dict] = []
    for record in read_events(run_dir, skipped):
        kind = record["event"]
        if kind in ("BatchDone", "EpochDone", "Evaluated"):
            row = metrics.setdefault(record["iteration"], dict.fromkeys(METRICS))
            row["step"] = record["iteration"]
            if kind == "BatchDone":
                row.update(epoch=record["epoch"], loss=record["loss"], lr=record["lr"])
            else:
                row.update(train_acc=record["train_acc"], test_acc=record["test_acc"])
                if kind == "EpochDone" and row["epoch"] is None:
                    row["epoch"] = record["epoch"]
        elif kind == "GradCheckDone":
            for r in record["rows"]:
                gradcheck.append({"step": record["iteration"], **{k: r[k] for k in GRADCHECK[1:]},
                                  "shape": "x".join(map(str, r["shape"]))})
    return [metrics[i] for i in sorted(metrics)], gradcheck


def export_run(run_dir: Path, form: str = "csv", beside: dict[str, str] | None = None,
               skipped: Skipped | None = None) -> list[Path]:
    """Write the tables into the run directory as `form` ("csv" or "jsonl"), and the `beside` files
    (name: text, such as the monitor's screenshot); return the paths."""
    metrics, gradcheck = tables(run_dir, skipped)
    written = []
    for name, columns, rows in (("metrics", METRICS, metrics), ("gradcheck", GRADCHECK, gradcheck)):
        path = Path(run_dir) / f"{name}.{form}"
        if form == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows([{k: row[k] for k in columns} for row in rows])
            text = buffer.getvalue()
        else:
            text = "".join(json.dumps({k: row[k] for k in columns}) + "\n" for row in rows)
        write_bytes_atomic(path, text.encode())
        written.append(path)
    for name, text in (beside or {}).items():
        written.append(Path(run_dir) / Path(name).name)  # a name, never a path elsewhere
        write_bytes_atomic(written[-1], text.encode())
    return written
