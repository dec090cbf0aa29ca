"""A run as a TensorBoard event file: `python -m engine export RUN --tensorboard [DIR]`.

One file, DIR/events.out.tfevents.<run start, Unix seconds>.<host>.backprop-tui (DIR: RUN/tensorboard by
default), encoded by engine/tfevents.py (no TensorFlow, tensorboard or protobuf) and written atomically
(engine/atomic.py: temp file, fsync, rename). Its name depends only on the run and the machine, so exporting
again replaces it rather than adding a second file that TensorBoard would show as the same run twice.

It starts with the "brain.Event:2" version event; then, with each record's iteration as the step:
- scalars `loss`, `loss_ema` (the monitor's smoothed loss: engine/history.py Ema) and `lr`, each batch;
- `accuracy/train` and `accuracy/test`, each score (the last one logged at an iteration, as the CSV export);
- `gradcheck/<tensor>/mean_abs_diff`, `.../max_abs_diff` and `.../max_rel_error`, each gradient check;
- from each layer-statistics record: `grad_norm/<layer>/W` and `.../b` (L2 norms of dW and db), `dead_units/
  <layer>` (the share of the following ReLU's units that were 0 for the whole batch; not for the output
  layer), and histograms `weights/<layer>` and `gradients/<layer>` (the record's bins, exactly);
- an image `weight_images/Affine1` from each checkpoint that loads (the log keeps no weights): the first
  layer's hidden units as a grid of tiles, one per unit (the first MAX_TILES), each scaled symmetrically
  around 0 (0 is gray 128; the unit's largest |weight| is 255 as a positive weight, 1 as a negative one),
  black lines between. Not `weights/Affine1`: that is the histogram's tag, and TensorBoard's loader drops a tag
  that holds two kinds of data (both of them: tried with TensorBoard 2.21).

Wall time: the log records iterations, not times, so every event carries the run's start time: the UTC
timestamp its directory's name begins with (20261207T112120Z-...), else its config.json's modification time.
In TensorBoard use the STEP x-axis; RELATIVE and WALL put every point at one instant.

Damaged log records are skipped and counted, as by every reader of a log (engine/records.py); so are
checkpoints that do not load. Checkpoints of inputs that are not a square picture give no image.
"""
from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import events as ev
from . import tfevents
from .atomic import write_with
from .checkpoint import CheckpointError, load_checkpoint
from .files import open_regular
from .history import Ema
from .records import Skipped, read_log
from .run_index import started
from .runs import EVENTS_FILE, FOLDER_MODE, checkpoints

TENSORBOARD_DIR = "tensorboard"  # the default DIR, inside the run
FILE_VERSION = "brain.Event:2"
SUFFIX = "backprop-tui"  # the event file name's last part: who wrote it
MAX_TILES = 1024  # hidden units drawn in the weight image: 32 x 32 tiles of 28 x 28 are 927 x 927 pixels
IMAGE_TAG = "weight_images/Affine1"
GAP = 1  # pixels between tiles
GAP_VALUE = 0  # black: never a weight's gray, so the grid's lines stand out


class ExportError(Exception):
    """The output folder cannot be used (a symlink, a file, or cannot be made); the message says why."""


@dataclass
class Written:
    """What an export wrote, for the command to report."""

    path: Path
    wall_time: float
    batches: int = 0
    scores: int = 0
    gradchecks: int = 0
    layer_stats: int = 0
    images: int = 0
    scalars: set[str] = field(default_factory=set)  # tags, by kind
    histograms: set[str] = field(default_factory=set)
    image_tags: set[str] = field(default_factory=set)
    bad_checkpoints: Skipped = field(default_factory=Skipped)  # checkpoints that did not load
    not_pictures: int = 0  # checkpoints whose inputs are not a square picture: no image
    others: list[str] = field(default_factory=list)  # other event files already in DIR


def run_start(run_dir: Path) -> float:
    """The run's start in Unix seconds, as the run browser lists it (engine/run_index.py started)."""
    return started(Path(run_dir)).timestamp()


def event_file_name(wall_time: float, host: str | None = None) -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "_", host if host is not None else socket.gethostname()) or "localhost"
    return f"events.out.tfevents.{int(wall_time)}.{host}.{SUFFIX}"


def usable_dir(out_dir: Path) -> Path:
    """`out_dir`, made (owner-only) if missing; ExportError when it is a symlink, not a folder, or cannot be made."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise ExportError(f"{out_dir} is a symlink; give the folder itself")
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is not a folder")
    try:
        out_dir.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out_dir} cannot be made: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ExportError(f"{out_dir} cannot be written: permission denied")
    return out_dir


def bin_moments(edges, counts) -> tuple[float, float]:
    """(sum, sum of squares) of the values a histogram holds, estimated with each value at its bin's centre:
    LayerStats keeps the bins, not the values, and HistogramProto asks for both (TensorBoard derives no
    drawing from them; the buckets it draws are the record's exactly)."""
    edges, counts = np.asarray(edges, np.float64), np.asarray(counts, np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    return float(counts @ centres), float(counts @ centres**2)


def weight_grid(w1: np.ndarray, side: int) -> np.ndarray:
    """The first layer's weights (inputs, units) as a uint8 picture: one side x side tile per unit (the first
    MAX_TILES), in rows of ceil(sqrt(units)), each scaled on its own so that 0 is gray 128 and its largest
    |weight| 1 or 255; GAP pixels of GAP_VALUE between tiles and where the last row has none."""
    units = min(w1.shape[1], MAX_TILES)
    tiles = np.asarray(w1[:, :units], np.float64).T.reshape(units, side, side)
    scale = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    unit = np.divide(tiles, scale, out=np.zeros_like(tiles), where=scale > 0)  # -1..1; a unit of zeros stays 0
    pixels = (128 + np.rint(127 * unit)).astype(np.uint8)
    columns = math.ceil(math.sqrt(units))
    rows = math.ceil(units / columns)
    step = side + GAP
    grid = np.full((rows * step - GAP, columns * step - GAP), GAP_VALUE, np.uint8)
    for k in range(units):
        r, c = divmod(k, columns)
        grid[r * step:r * step + side, c * step:c * step + side] = pixels[k]
    return grid


def export_tensorboard(run_dir: Path, out_dir: Path | None = None, skipped: Skipped | None = None,
                       host: str | None = None) -> Written:
    """Write the run's event file (see the module's docstring) into `out_dir` (default RUN/tensorboard).

    Damaged log records are counted in `skipped`. OSError when the log cannot be read or the file cannot be
    written; ExportError when `out_dir` cannot be used."""
    run_dir = Path(run_dir)
    skipped = skipped if skipped is not None else Skipped()
    log = run_dir / EVENTS_FILE
    with open_regular(log):  # a missing or foreign log is said before any folder is made
        pass
    out_dir = usable_dir(run_dir / TENSORBOARD_DIR if out_dir is None else Path(out_dir))
    wall_time = run_start(run_dir)
    written = Written(out_dir / event_file_name(wall_time, host), wall_time)
    written.others = sorted(p.name for p in out_dir.iterdir()
                            if tfevents.is_event_file(p.name) and p.name != written.path.name)

    def write(f: BinaryIO) -> None:
        put = _Writer(f, wall_time)
        put.version()
        _write_log(read_log(log, skipped), put, written)
        _write_images(run_dir, put, written)

    write_with(written.path, write)
    return written


def _scalar(tag: str, value: float) -> bytes:
    """A float32 scalar; a value beyond float32's range (only a hand-edited log has one) as ±inf."""
    try:
        return tfevents.scalar(tag, value)
    except OverflowError:
        return tfevents.scalar(tag, math.copysign(math.inf, value))


class _Writer:
    """Events into an open file, each framed as a TFRecord."""

    def __init__(self, f: BinaryIO, wall_time: float):
        self.f, self.wall_time = f, wall_time

    def version(self) -> None:
        self.f.write(tfevents.frame(tfevents.event(0, self.wall_time, file_version=FILE_VERSION)))

    def __call__(self, step: int, values: list[bytes]) -> None:
        if values:
            self.f.write(tfevents.frame(tfevents.event(step, self.wall_time, values)))


def _write_log(events, put: Callable[[int, list[bytes]], None], written: Written) -> None:
    """The batches as they come; scores, grad checks and layer statistics after them, one per iteration (the
    last logged there: a resumed run scores again where its checkpoint was), each tag in step order."""
    ema = Ema()
    scores: dict[int, tuple[float, float]] = {}
    checks: dict[int, tuple] = {}
    layers: dict[int, tuple] = {}
    for event in events:
        if isinstance(event, ev.Batches):
            for k, loss in enumerate(event.losses.tolist()):
                put(event.first + k, [_scalar("loss", loss), _scalar("loss_ema", ema(loss)),
                                      _scalar("lr", event.lr)])
            written.batches += len(event.losses)
        elif isinstance(event, ev.BatchDone):  # a log from before Batches records
            put(event.iteration, [_scalar("loss", event.loss), _scalar("loss_ema", ema(event.loss)),
                                  _scalar("lr", event.lr)])
            written.batches += 1
        elif isinstance(event, (ev.EpochDone, ev.Evaluated)):
            scores[event.iteration] = (event.train_acc, event.test_acc)
        elif isinstance(event, ev.GradCheckDone):
            checks[event.iteration] = event.rows
        elif isinstance(event, ev.LayerStats):
            layers[event.iteration] = event.layers
    if written.batches:
        written.scalars |= {"loss", "loss_ema", "lr"}
    for iteration in sorted(scores):
        train, test = scores[iteration]
        put(iteration, [_scalar("accuracy/train", train), _scalar("accuracy/test", test)])
        written.scalars |= {"accuracy/train", "accuracy/test"}
    for iteration in sorted(checks):
        scalars = {f"gradcheck/{row.name}/{column}": getattr(row, column)
                   for row in checks[iteration] for column in ("mean_abs_diff", "max_abs_diff", "max_rel_error")}
        put(iteration, [_scalar(tag, value) for tag, value in scalars.items()])
        written.scalars |= set(scalars)
    for iteration in sorted(layers):
        values = []
        for row in layers[iteration]:
            scalars = {f"grad_norm/{row.name}/W": row.weight_grad_norm, f"grad_norm/{row.name}/b": row.bias_grad_norm}
            if row.dead_share is not None:
                scalars[f"dead_units/{row.name}"] = row.dead_share
            values += [_scalar(tag, value) for tag, value in scalars.items()]
            written.scalars |= set(scalars)
            for tag, edges, counts in ((f"weights/{row.name}", row.weight_edges, row.weight_counts),
                                       (f"gradients/{row.name}", row.grad_edges, row.grad_counts)):
                values.append(tfevents.histogram(tag, edges, counts, *bin_moments(edges, counts)))
                written.histograms.add(tag)
        put(iteration, values)
    written.scores, written.gradchecks, written.layer_stats = len(scores), len(checks), len(layers)


def _write_images(run_dir: Path, put: Callable[[int, list[bytes]], None], written: Written) -> None:
    """An image of the first layer's weights from each checkpoint that loads, one per iteration."""
    done = set()
    for path in checkpoints(run_dir):
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as exc:
            written.bad_checkpoints.add(path.name, str(exc).removeprefix(f"{path}: "))
            continue
        if checkpoint.iteration in done:  # a checkpoint by hand where an automatic one is: the same weights
            continue
        done.add(checkpoint.iteration)
        w1 = checkpoint.params["W1"]
        side = math.isqrt(w1.shape[0])
        if side * side != w1.shape[0]:
            written.not_pictures += 1
            continue
        put(checkpoint.iteration, [tfevents.image(IMAGE_TAG, weight_grid(w1, side))])
        written.images += 1
        written.image_tags.add(IMAGE_TAG)
