"""Time loading a full-size dataset: first start (gunzip + IDX parse + write .npy) vs later starts (.npy).

Uses Debian's Fashion-MNIST (60k + 10k, same shapes as MNIST) when installed, else
generated files of the same size. Goal: later starts load in <= 0.3 s.
Run: python bench/data_bench.py
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import loader, registry  # noqa: E402
from engine.idx import write_idx  # noqa: E402
from engine.registry import FILENAMES, DatasetInfo, RemoteFile  # noqa: E402

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def source_files(folder: Path) -> str:
    if DEBIAN_FASHION.is_dir():
        for name in FILENAMES.values():
            shutil.copy(DEBIAN_FASHION / name, folder / name)
        return "Debian's Fashion-MNIST"
    rng = np.random.default_rng(0)
    for kind, name in FILENAMES.items():
        n = 60000 if kind.startswith("train") else 10000
        shape = (n, 28, 28) if kind.endswith("images") else (n,)
        write_idx(folder / name, rng.integers(0, 256 if len(shape) == 3 else 10, shape, dtype=np.uint8))
    return "generated files of MNIST's size"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BACKPROP_TUI_DATA"] = tmp
        folder = Path(tmp) / "mnist"
        folder.mkdir()
        what = source_files(folder)
        files = tuple(
            RemoteFile(kind, (folder / name).stat().st_size, "",
                       hashlib.sha256((folder / name).read_bytes()).hexdigest())
            for kind, name in FILENAMES.items()
        )
        registry.REGISTRY["mnist"] = DatasetInfo("mnist", "bench", ("http://127.0.0.1:9/",), files,
                                                 tuple("0123456789"), "")
        began = time.perf_counter()
        data = loader.load_dataset("mnist", download_missing=False)
        first = time.perf_counter() - began
        times = []
        for _ in range(5):
            began = time.perf_counter()
            loader.load_dataset("mnist", download_missing=False)
            times.append(time.perf_counter() - began)
        megabytes = (data.x_train.nbytes + data.x_test.nbytes + data.t_train.nbytes + data.t_test.nbytes) / 1e6
        print(f"data: {what}, {len(data.x_train):,} + {len(data.x_test):,} images, {megabytes:.0f} MB in memory")
        print(f"first start (gunzip, parse, write .npy): {first:.3f} s")
        print(f"later starts (.npy, median of 5):         {np.median(times):.3f} s  (goal <= 0.3 s)")
        print(f"ratio first / later: {first / np.median(times):.1f}x")


if __name__ == "__main__":
    main()
