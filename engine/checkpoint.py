"""Checkpoints: everything needed to continue a run exactly, in one .npz.

Written atomically (temp file, fsync, rename) and read with allow_pickle=False:
a checkpoint holds only numeric arrays and one JSON string, so loading one can
never run code. Contents: parameters, optimizer state, iteration, epoch, the
position in the current shuffle, the batch-order RNG state and the config.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .atomic import write_with
from .config import TrainConfig

FORMAT = 1


class CheckpointError(Exception):
    """A checkpoint that cannot be used: unreadable, not ours, or for another network."""


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
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # np.load would take other files for .npy or pickle data
                raise CheckpointError(f"{path}: not a readable checkpoint (not an .npz archive)")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}")
        config = meta["config"]
        config["hidden_sizes"] = tuple(config["hidden_sizes"])
        return Checkpoint(
            config=TrainConfig(**config),
            architecture=meta["architecture"],
            iteration=int(meta["iteration"]),
            epochs_done=int(meta["epochs_done"]),
            cursor=int(meta["cursor"]),
            order=arrays.pop("order"),
            rng_state=meta["rng_state"],
            params={k.removeprefix("param/"): v for k, v in arrays.items() if k.startswith("param/")},
            optimizer_arrays={k.removeprefix("opt/"): v for k, v in arrays.items() if k.startswith("opt/")},
            optimizer_scalars=meta["optimizer_scalars"],
        )
    except CheckpointError:
        raise
    except ValueError as exc:  # also a bad config (ConfigError) or bad JSON
        if "allow_pickle" in str(exc):
            raise CheckpointError(f"{path}: holds pickled objects; refused (loading them could run code)") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
