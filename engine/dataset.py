"""A loaded dataset and reading one from a folder of the four standard IDX files.

Images stay as one uint8 master copy (N, pixels); batches are converted to
float in [0, 1] when they are used, so full MNIST costs ~55 MB, not 400 MB.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import IMAGES_MAGIC, LABELS_MAGIC, IdxError, read_idx

STANDARD_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DIGITS = tuple(str(d) for d in range(10))


class DatasetError(Exception):
    """The data cannot be had: missing, unreadable or inconsistent. The message says what to do."""


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    x_train: np.ndarray  # (N, pixels) uint8, or float already in [0, 1]
    t_train: np.ndarray  # (N,) integer labels
    x_test: np.ndarray
    t_test: np.ndarray
    image_shape: tuple[int, int] = (28, 28)
    class_names: tuple[str, ...] = DIGITS

    def __post_init__(self):
        for x, t, part in ((self.x_train, self.t_train, "train"), (self.x_test, self.t_test, "test")):
            if len(x) != len(t):
                raise DatasetError(f"{self.name}: {len(x)} {part} images but {len(t)} labels")
        if len(self.x_train) == 0:
            raise DatasetError(f"{self.name}: the training set is empty")

    @property
    def input_size(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def find_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"{folder}: missing {stem}(.gz). A data folder needs the four standard MNIST-format files: "
        + ", ".join(f"{s}.gz" for s in STANDARD_FILES.values())
    )


def load_folder(folder: str | os.PathLike, name: str = "mnist", class_names: tuple[str, ...] = DIGITS) -> Dataset:
    """Load the four standard IDX files (gzip or not) from a folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"data folder {folder} does not exist")
    try:
        arrays = {
            key: read_idx(find_file(folder, stem), IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC)
            for key, stem in STANDARD_FILES.items()
        }
    except IdxError as exc:
        raise DatasetError(str(exc)) from None
    shape = arrays["train_images"].shape[1:]
    if arrays["test_images"].shape[1:] != shape:
        raise DatasetError(f"{folder}: train images are {shape}, test images {arrays['test_images'].shape[1:]}")
    for key in ("train_labels", "test_labels"):
        if arrays[key].size and arrays[key].max() >= len(class_names):
            raise DatasetError(f"{folder}: {key.replace('_', ' ')} include class {arrays[key].max()}, "
                               f"but {name} has {len(class_names)} classes")
    return Dataset(
        name=name,
        x_train=arrays["train_images"].reshape(len(arrays["train_images"]), -1),
        t_train=arrays["train_labels"],
        x_test=arrays["test_images"].reshape(len(arrays["test_images"]), -1),
        t_test=arrays["test_labels"],
        image_shape=tuple(shape),
        class_names=class_names,
    )
