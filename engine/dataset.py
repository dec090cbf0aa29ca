"""A loaded dataset: train and test images with their labels and class names.

Images stay as one uint8 master copy (N, pixels); batches are converted to
float in [0, 1] when they are used, so full MNIST costs ~55 MB, not 400 MB.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
