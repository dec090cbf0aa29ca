"""The digits the benchmarks train on: the shared real MNIST test set, or random images without it."""
from __future__ import annotations

import re
from pathlib import Path

from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx  # engine first: it sets BLAS threads before numpy

ROOT = Path(__file__).resolve().parent.parent
# Escape sequences, for reading what an app drew on a terminal as text.
CSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def t10k_digits() -> tuple:
    """(images (10000, 28, 28) uint8, labels, where they came from): ../shared/data/mnist's t10k set,
    else generated random images of the same shape (said so in the description)."""
    for shared in (ROOT.parent / "shared", Path("/work/shared")):
        src = shared / "data" / "mnist"
        images, labels = src / "t10k-images-idx3-ubyte.gz", src / "t10k-labels-idx1-ubyte.gz"
        if images.is_file() and labels.is_file():
            return read_idx(images, IMAGES_MAGIC), read_idx(labels, LABELS_MAGIC), f"real MNIST t10k digits from {src}"
    import numpy as np

    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10_000, dtype=np.uint8),
            "GENERATED random images (no shared MNIST found)")
