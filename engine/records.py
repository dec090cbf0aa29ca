"""What a run log's records may hold: one schema per logged event.

A run directory may come from another process, another user or a damaged disk, so a record becomes an
event only when every field is what the trainer writes: the right type, in range, finite where it must
be, of bounded size, and text without control characters. Every reader goes through `decode`: the
follower of an attached monitor, a resume's history, the run browser and export. A record that fails
raises DamagedRecord (a ValueError) naming the field; readers skip it and count it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import events as ev
from .config import ConfigError, TrainConfig
from .controls import LIVE_SETTINGS, checked_setting
from .files import open_regular
from .gradcheck import GradCheckRow
from .insight import LayerStatsRow

MAX_LINE = 1 << 20  # bytes: a longer line is skipped, never held whole
MAX_TEXT = 2000  # characters of a message or a path
MAX_NAME = 100  # characters of a name (a dataset, a layer, a parameter tensor)
MAX_ROWS = 64  # parameter tensors or layers in one record
MAX_BINS = 1000  # histogram bins
MAX_BATCHES = 10_000  # batches in one Batches record (about 120 kB of line)
MAX_COUNT = 2**53  # iterations, sizes, element counts: exact in a float, far beyond any run
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class DamagedRecord(ValueError):
    """A log record that is not what the trainer writes."""


def plain(text: str) -> str:
    """`text` with control characters (escape sequences, bidirectional overrides) replaced by U+FFFD,
    so text from a file cannot drive the terminal it is shown on. Tabs and newlines are kept."""
    return CONTROL.sub("\ufffd", text)


def count(value, field: str, high: int = MAX_COUNT) -> int:
    if type(value) is not int or not 0 <= value <= high:
        raise DamagedRecord(f"{field}: {_shown(value)} is not a whole number from 0 to {high:,}")
    return value


def number(value, field: str, low: float = -math.inf, high: float = math.inf, finite: bool = True) -> float:
    """A float in [low, high]; with finite=False also nan and ±inf (written as the text "nan", "inf")."""
    if not finite and value in ("nan", "inf", "-inf"):
        return float(value)
    if type(value) not in (int, float):
        raise DamagedRecord(f"{field}: {_shown(value)} is not a number")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        if finite:
            raise DamagedRecord(f"{field}: {value} is not finite")
        return value
    if not low <= value <= high:
        raise DamagedRecord(f"{field}: {value:g} is outside {low:g} to {high:g}")
    return value


def text(value, field: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise DamagedRecord(f"{field}: not a text of at most {limit:,} characters")
    return plain(value)


def flag(value, field: str) -> bool:
    if type(value) is not bool:
        raise DamagedRecord(f"{field}: {_shown(value)} is not true or false")
    return value


def items(value, field: str, limit: int, check) -> tuple:
    if not isinstance(value, list) or len(value) > limit:
        raise DamagedRecord(f"{field}: not a list of at most {limit:,} items")
    return tuple(check(v, f"{field}[{i}]") for i, v in enumerate(value))


def share(value, field: str) -> float:
    """An accuracy: a fraction from 0 to 1 (nan for an empty set)."""
    if value == "nan" or type(value) is float and math.isnan(value):
        return math.nan
    return number(value, field, 0.0, 1.0)


def _shown(value) -> str:
    return repr(value)[:40]


def _gradcheck_row(value, field: str) -> GradCheckRow:
    if isinstance(value, dict) and "kink_failures" not in value:  # a log from before kinks were checked
        value = {**value, "kink_failures": 0}
    row = _fields(value, field, GradCheckRow)
    shape = items(row["shape"], f"{field}.shape", 8, lambda v, f: count(v, f, 2**31))
    checked, total = count(row["checked"], f"{field}.checked"), count(row["count"], f"{field}.count")
    if checked > total:
        raise DamagedRecord(f"{field}: checked {checked:,} of {total:,} elements")
    loose = {"low": 0.0, "finite": False}
    return GradCheckRow(text(row["name"], f"{field}.name", MAX_NAME), shape, total, checked,
                        *(number(row[k], f"{field}.{k}", **loose) for k in ("mean_abs_diff", "max_abs_diff",
                                                                           "max_rel_error")),
                        count(row["kinks"], f"{field}.kinks"), flag(row["passed"], f"{field}.passed"),
                        count(row["kink_failures"], f"{field}.kink_failures"))


def _histogram(counts, edges, field: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    counts = items(counts, f"{field} counts", MAX_BINS, count)
    edges = items(edges, f"{field} edges", MAX_BINS + 1, number)
    if not counts or len(edges) != len(counts) + 1 or any(b < a for a, b in zip(edges, edges[1:])):
        raise DamagedRecord(f"{field}: {len(counts)} counts need {len(counts) + 1} rising edges")
    return counts, edges


def _layer_row(value, field: str) -> LayerStatsRow:
    row = _fields(value, field, LayerStatsRow)
    weights = _histogram(row["weight_counts"], row["weight_edges"], f"{field}.weight")
    grads = _histogram(row["grad_counts"], row["grad_edges"], f"{field}.grad")
    dead = None if row["dead_share"] is None else number(row["dead_share"], f"{field}.dead_share", 0.0, 1.0)
    return LayerStatsRow(text(row["name"], f"{field}.name", MAX_NAME), *weights, *grads,
                         number(row["weight_grad_norm"], f"{field}.weight_grad_norm", 0.0, finite=False),
                         number(row["bias_grad_norm"], f"{field}.bias_grad_norm", 0.0, finite=False), dead)


def _fields(value, field: str, cls) -> dict:
    """`value` as an object with exactly the fields of the dataclass `cls`."""
    names = list(cls.__dataclass_fields__)
    if not isinstance(value, dict) or sorted(value) != sorted(names):
        raise DamagedRecord(f"{field}: not an object with the fields {', '.join(names)}")
    return value


def _setting(name, value, field: str):
    try:
        return getattr(checked_setting(TrainConfig(), name, value), name)
    except (ConfigError, TypeError) as exc:
        raise DamagedRecord(f"{field}: {_shown(value)} is not a valid {name}") from exc


def _config(value) -> TrainConfig:
    if not isinstance(value, dict):
        raise DamagedRecord("config: not an object")
    try:
        return TrainConfig(**value)
    except (ConfigError, TypeError, ValueError) as exc:
        raise DamagedRecord(f"config: {plain(str(exc))[:200]}") from exc


def _param_changed(r: dict) -> ev.ParamChanged:
    name = r["name"]
    if name not in LIVE_SETTINGS:
        raise DamagedRecord(f"name: {_shown(name)} is not a live setting")
    return ev.ParamChanged(name, _setting(name, r["old"], "old"), _setting(name, r["new"], "new"),
                           count(r["iteration"], "iteration"))


def _batches(r: dict) -> ev.Batches:
    first = count(r["first"], "first")
    losses = r["losses"]
    if not isinstance(losses, list) or not 0 < len(losses) <= MAX_BATCHES:
        raise DamagedRecord(f"losses: not a list of 1 to {MAX_BATCHES:,} numbers")
    if not all(type(v) is float for v in losses):  # (the fast path: any float, nan and inf too, is a loss)
        losses = [number(v, f"losses[{i}]", finite=False) for i, v in enumerate(losses)]
    with np.errstate(over="ignore"):  # a value beyond float32 is inf, as a loss may be
        values = np.array(losses, dtype=np.float32).astype(np.float64)  # written to float32 precision
    values.flags.writeable = False
    last = first + len(values) - 1
    if last > MAX_COUNT:
        raise DamagedRecord(f"first: {first:,} + {len(values):,} batches is past {MAX_COUNT:,}")
    epoch, step = number(r["epoch"], "epoch", 0.0), number(r["epoch_step"], "epoch_step", 0.0)
    number(epoch + step * (len(values) - 1), "the last batch's epoch")  # finite
    return ev.Batches(first, values, number(r["lr"], "lr", 0.0), epoch, step,
                      number(r["samples_per_s"], "samples_per_s", 0.0))


def _iteration(r: dict) -> dict:
    return {"iteration": count(r["iteration"], "iteration")}


# kind: (the event class, the record's fields and how each is checked, or a function of the whole record)
SCHEMA = {
    "Started": (ev.Started, lambda r: ev.Started(
        _config(r["config"]), text(r["architecture"], "architecture", MAX_NAME), text(r["dataset"], "dataset", MAX_NAME),
        count(r["train_size"], "train_size"), count(r["test_size"], "test_size"), count(r["iteration"], "iteration"))),
    "BatchDone": (ev.BatchDone, lambda r: ev.BatchDone(
        count(r["iteration"], "iteration"), number(r["epoch"], "epoch", 0.0),
        number(r["loss"], "loss", finite=False), number(r["lr"], "lr", 0.0), number(r["samples_per_s"], "samples_per_s", 0.0))),
    "Batches": (ev.Batches, _batches),
    "EpochDone": (ev.EpochDone, lambda r: ev.EpochDone(
        count(r["epoch"], "epoch"), count(r["iteration"], "iteration"), share(r["train_acc"], "train_acc"),
        share(r["test_acc"], "test_acc"))),
    "Evaluated": (ev.Evaluated, lambda r: ev.Evaluated(
        count(r["iteration"], "iteration"), share(r["train_acc"], "train_acc"), share(r["test_acc"], "test_acc"))),
    "GradCheckDone": (ev.GradCheckDone, lambda r: ev.GradCheckDone(
        items(r["rows"], "rows", MAX_ROWS, _gradcheck_row), count(r["iteration"], "iteration"),
        number(r["seconds"], "seconds", 0.0))),
    "LayerStats": (ev.LayerStats, lambda r: ev.LayerStats(
        count(r["iteration"], "iteration"), items(r["layers"], "layers", MAX_ROWS, _layer_row))),
    "ParamChanged": (ev.ParamChanged, _param_changed),
    "Paused": (ev.Paused, lambda r: ev.Paused(**_iteration(r))),
    "Resumed": (ev.Resumed, lambda r: ev.Resumed(**_iteration(r))),
    "Diverged": (ev.Diverged, lambda r: ev.Diverged(count(r["iteration"], "iteration"),
                                                    number(r["loss"], "loss", finite=False))),
    "Finished": (ev.Finished, lambda r: ev.Finished(count(r["iteration"], "iteration"),
                                                    number(r["seconds"], "seconds", 0.0))),
    "CheckpointSaved": (ev.CheckpointSaved, lambda r: ev.CheckpointSaved(text(r["path"], "path"),
                                                                        count(r["iteration"], "iteration"))),
    "WriteFailed": (ev.WriteFailed, lambda r: ev.WriteFailed(text(r["path"], "path"), text(r["message"], "message"))),
    "Failed": (ev.Failed, lambda r: ev.Failed(text(r["message"], "message"))),
}


def decode(record) -> object:
    """The event a log record was made from; DamagedRecord when it is not one the trainer writes."""
    if not isinstance(record, dict):
        raise DamagedRecord("not an object")
    kind = record.get("event")
    if kind not in SCHEMA:
        raise DamagedRecord(f"event: {_shown(kind)} is not a kind of event")
    cls, build = SCHEMA[kind]
    known = {"event", *cls.__dataclass_fields__}
    required = {name for name, f in cls.__dataclass_fields__.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if missing := sorted(required - set(record)):
        raise DamagedRecord(f"{kind}: missing {', '.join(missing)}")
    if extra := set(record) - known:
        raise DamagedRecord(f"{kind}: unknown field {_shown(sorted(map(str, extra))[0])}")
    return build({**{name: f.default for name, f in cls.__dataclass_fields__.items() if name not in record}, **record})


@dataclass
class Skipped:
    """The damaged records a reader skipped: how many, and where the first one was and why."""

    count: int = 0
    first: str = ""

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if not self.first:
            self.first = f"{where}: {reason}"

    def __str__(self) -> str:
        if not self.count:
            return ""
        return f"{self.count:,} damaged record{'s' if self.count > 1 else ''} skipped (first: {self.first})"


def parse(line: bytes) -> object:
    """One line of a log (without its newline) as an event; DamagedRecord when it is not a record."""
    if len(line) > MAX_LINE:
        raise DamagedRecord(f"a line of over {MAX_LINE:,} bytes")
    return decode(json_line(line))


def json_line(line: bytes) -> object:
    """A line of JSON from a file that may not be ours; DamagedRecord when it is not UTF-8 JSON."""
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedRecord("not UTF-8") from None
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise DamagedRecord("not JSON") from None


def lines(f: BinaryIO, limit: int = MAX_LINE) -> Iterator[tuple[bytes | None, bool]]:
    """The lines of a binary file as (content without the newline, whether a newline ended it); a line
    longer than `limit` comes as None and is read past in pieces, never held whole."""
    while line := f.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := f.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield None, bool(rest)
        elif line.endswith(b"\n"):
            yield line[:-1], True
        else:
            yield line, False


def read_log(path: Path, skipped: Skipped | None = None) -> Iterator[object]:
    """The events of a log file, in order. Damaged records are skipped and counted in `skipped`; a cut-short
    last line (a writer killed mid-line) is skipped with a warning. OSError when it cannot be read."""
    skipped = skipped if skipped is not None else Skipped()
    with open_regular(path) as f:  # a symlink, a FIFO, a directory: OSError, for the caller to say so
        for number, (line, whole) in enumerate(lines(f), start=1):
            if line is not None and not line.strip():
                continue
            try:
                yield parse(line) if line is not None else _too_long()
            except DamagedRecord as exc:
                if not whole:
                    warnings.warn(f"{path}: line {number} is cut short; skipped", TruncatedLogWarning, stacklevel=2)
                    return
                skipped.add(f"line {number}", str(exc))


def _too_long():
    raise DamagedRecord(f"a line of over {MAX_LINE:,} bytes")


class TruncatedLogWarning(UserWarning):
    """The log's last line was cut short (the writer was killed mid-line); it was skipped."""
