"""Checkpoints: everything needed to continue a run exactly, in one .npz.

Written atomically (temp file, fsync, rename) and read with allow_pickle=False:
a checkpoint holds only numeric arrays and one JSON string, so loading one can
never run code. Contents: parameters, optimizer state, iteration, epoch, the
position in the current shuffle, the batch-order RNG state and the config.

A checkpoint may come from a damaged disk or a hostile user, so loading one trusts nothing: the
arrays' headers are read first and must be exactly those the checkpoint's own settings and
architecture imply (names, shapes, dtypes; stored uncompressed, so nothing read is larger than the
file), and every field is checked before use. Anything else is a CheckpointError saying why.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from . import npz
from .atomic import write_with
from .config import ConfigError, TrainConfig
from .optimizers import OPTIMIZERS, make_optimizer, optimizer_state

FORMAT = 1
META_FIELDS = ("format", "config", "architecture", "iteration", "epochs_done", "cursor", "rng_state",
               "optimizer_scalars")
MAX_META = 1 << 16  # characters of the JSON meta; a real one is under 2,000
MAX_INPUT = 1 << 16  # inputs per sample: 256 x 256 pixels
MAX_CLASSES = 1000
MAX_SAMPLES = 1 << 24  # training samples, the length of `order`
MAX_COUNT = 2**53  # iterations: exact in a float, far beyond any run
ARCHITECTURE = re.compile(r"[1-9][0-9]{0,5}(?:-[1-9][0-9]{0,5}){2,}")  # input-hidden...-classes, as Network writes


class CheckpointError(Exception):
    """A checkpoint that cannot be used: unreadable, not ours, damaged, or for another network."""


@dataclass(frozen=True)
class Checkpoint:
    config: TrainConfig
    architecture: str
    iteration: int
    epochs_done: int
    cursor: int  # position in `order`, the current epoch's shuffle
    order: np.ndarray
    rng_state: dict
    params: dict[str, np.ndarray]
    optimizer_arrays: dict[str, np.ndarray]
    optimizer_scalars: dict[str, int]


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    meta = {
        "format": FORMAT,
        "config": asdict(checkpoint.config),
        "architecture": checkpoint.architecture,
        "iteration": checkpoint.iteration,
        "epochs_done": checkpoint.epochs_done,
        "cursor": checkpoint.cursor,
        "rng_state": checkpoint.rng_state,
        "optimizer_scalars": checkpoint.optimizer_scalars,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "order": checkpoint.order}
    arrays.update({f"param/{k}": v for k, v in checkpoint.params.items()})
    arrays.update({f"opt/{k}": v for k, v in checkpoint.optimizer_arrays.items()})
    write_with(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint at `path`, every part checked; CheckpointError (naming the file and the reason) otherwise."""
    path = Path(path)
    try:
        with npz.Archive(path, stored_only=True) as archive:
            return _read(archive)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: not a usable checkpoint ({exc})") from None
    except npz.NpzError as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc.strerror or exc})") from None


def _read(archive: npz.Archive) -> Checkpoint:
    """Everything is checked that can be from the meta and the headers before any array is read."""
    meta = _meta(archive)
    config = _config(meta["config"])
    sizes = _sizes(meta["architecture"], config)
    expected = _expected_arrays(sizes, config, archive.headers)
    order_length = _check_headers(archive.headers, expected)
    iteration = _count(meta["iteration"], "iteration", MAX_COUNT)
    epochs_done = _count(meta["epochs_done"], "epochs_done", iteration)  # an epoch takes a batch at least
    cursor = _count(meta["cursor"], "cursor", order_length)
    rng_state = _rng_state(meta["rng_state"])
    optimizer_scalars = _optimizer_scalars(meta["optimizer_scalars"], config.optimizer, iteration)
    arrays = {name: _finite(name, archive.read(name)) for name in expected}
    return Checkpoint(
        config=config,
        architecture=meta["architecture"],
        iteration=iteration,
        epochs_done=epochs_done,
        cursor=cursor,
        order=_shuffle(archive.read("order")),
        rng_state=rng_state,
        params={k.removeprefix("param/"): v for k, v in arrays.items() if k.startswith("param/")},
        optimizer_arrays={k.removeprefix("opt/"): v for k, v in arrays.items() if k.startswith("opt/")},
        optimizer_scalars=optimizer_scalars,
    )


def _meta(archive: npz.Archive) -> dict:
    """The JSON object of member "meta", bounded in size and depth, with exactly the fields we write."""
    shape, dtype = archive.headers.get("meta", (None, None))
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * MAX_META:  # 4 bytes per character
        raise CheckpointError(f"meta: not a JSON text of at most {MAX_META:,} characters")
    try:
        meta = json.loads(str(archive.read("meta")))
    except RecursionError:
        raise CheckpointError("meta: nested too deeply") from None
    except ValueError:  # also numbers of more than 4,300 digits
        raise CheckpointError("meta: not JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError("meta: not a JSON object")
    if type(meta.get("format")) is not int or meta["format"] != FORMAT:
        raise CheckpointError(f"checkpoint format {_shown(meta.get('format'))}, expected {FORMAT}")
    if sorted(meta) != sorted(META_FIELDS):
        raise CheckpointError(f"meta: fields {_shown(sorted(meta))}, expected {', '.join(META_FIELDS)}")
    return meta


def _config(value) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    if not isinstance(value, dict) or not set(value) <= names:  # missing fields: a setting added since
        raise CheckpointError("config: not an object of training settings")
    try:
        return TrainConfig(**value)
    except (ConfigError, TypeError) as exc:  # TypeError: an unhashable value where a name belongs
        raise CheckpointError(f"config: {exc}") from None


def _sizes(architecture, config: TrainConfig) -> list[int]:
    """Layer sizes from the architecture string, which must agree with the config's hidden sizes."""
    if not isinstance(architecture, str) or not ARCHITECTURE.fullmatch(architecture):
        raise CheckpointError(f"architecture {_shown(architecture)} is not input-hidden...-classes")
    sizes = [int(s) for s in architecture.split("-")]
    if tuple(sizes[1:-1]) != config.hidden_sizes:
        raise CheckpointError(f"architecture {architecture} disagrees with hidden sizes {config.hidden_sizes}")
    if sizes[0] > MAX_INPUT or sizes[-1] > MAX_CLASSES:
        raise CheckpointError(f"architecture {architecture}: at most {MAX_INPUT:,} inputs and {MAX_CLASSES} classes")
    return sizes


def _expected_arrays(sizes: list[int], config: TrainConfig, found: npz.Headers) -> dict[str, tuple]:
    """Name -> (shape, dtype) of the parameters and, once the optimizer has taken a step (any "opt/"
    member present), of every array the optimizer keeps: one per slot and parameter, shaped like it."""
    dtype = np.dtype(config.dtype)
    params = {}
    for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        params[f"W{k}"], params[f"b{k}"] = ((fan_in, fan_out), dtype), ((fan_out,), dtype)
    expected = {f"param/{key}": header for key, header in params.items()}
    if any(name.startswith("opt/") for name in found):
        for slot in OPTIMIZERS[config.optimizer].SLOTS:
            expected.update({f"opt/{slot}/{key}": header for key, header in params.items()})
    return expected


def _check_headers(found: npz.Headers, expected: dict[str, tuple]) -> int:
    """Refuse, before reading any data, members other than those expected; the length of `order`."""
    names = set(expected) | {"meta", "order"}
    if set(found) != names:
        missing, unexpected = sorted(names - set(found)), sorted(set(found) - names)
        raise CheckpointError(f"arrays missing: {_shown(missing)}; unexpected: {_shown(unexpected)}")
    for name, (shape, dtype) in expected.items():
        if found[name] != (shape, dtype):
            raise CheckpointError(f"{name} is {found[name][1]} {found[name][0]}, expected {dtype} {shape}")
    shape, dtype = found["order"]
    if len(shape) != 1 or not 1 <= shape[0] <= MAX_SAMPLES or dtype.kind not in "iu":
        raise CheckpointError(f"order is {dtype} {shape}, expected whole numbers for 1 to {MAX_SAMPLES:,} samples")
    return shape[0]


def _finite(name: str, array: np.ndarray) -> np.ndarray:
    if not np.isfinite(array).all():
        raise CheckpointError(f"{name} holds NaN or infinite values")
    return array


def _shuffle(order: np.ndarray) -> np.ndarray:
    """`order`, when it is a shuffle of 0..n-1 (the trainer indexes its training set with it)."""
    n = len(order)
    if order.min() < 0 or order.max() >= n:
        raise CheckpointError(f"order holds sample numbers outside 0..{n - 1:,}")
    seen = np.zeros(n, bool)
    seen[order] = True
    if not seen.all():
        raise CheckpointError("order repeats sample numbers: not a shuffle of the training set")
    return order


def _rng_state(value) -> dict:
    """`value`, when numpy accepts it as the state of the trainer's generator (default_rng: PCG64) and
    gives it back unchanged (no extra keys, no values it had to convert)."""
    generator = np.random.default_rng(0)
    try:
        generator.bit_generator.state = value
        well_formed = generator.bit_generator.state == value
    except (TypeError, ValueError, KeyError, OverflowError):
        well_formed = False
    if not well_formed:
        raise CheckpointError(f"rng_state {_shown(value)} is not a {type(generator.bit_generator).__name__} state")
    return value


def _optimizer_scalars(value, optimizer: str, iteration: int) -> dict[str, int]:
    """The optimizer's scalars (Adam's step count): the names it keeps, each a count of at most `iteration`
    (one step per iteration)."""
    names = set(optimizer_state(make_optimizer(optimizer, lr=0.1))[1])  # lr: any valid one
    if not isinstance(value, dict) or set(value) != names:
        raise CheckpointError(f"optimizer_scalars {_shown(value)}: {optimizer} keeps {sorted(names) or 'none'}")
    return {name: _count(value[name], f"optimizer_scalars.{name}", iteration) for name in names}


def _count(value, name: str, high: int) -> int:
    if type(value) is not int or not 0 <= value <= high:
        raise CheckpointError(f"{name} {_shown(value)} is not a whole number from 0 to {high:,}")
    return value


def _shown(value) -> str:
    """A value from the file, for a message: repr (control characters escaped), cut short."""
    return repr(value)[:60]
