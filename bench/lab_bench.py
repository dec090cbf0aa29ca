"""How long the Lab's check takes: the full gradient check of 784-50-10 on 3 digits, with each bug put in.

    python bench/lab_bench.py [--rounds 7]

Each round times lab_check once per bug (and once with no bug), in turn, so a drift of the machine's speed
spreads over all of them; the goal is at most 50 ms per check. The digits are the first three of the real
MNIST test set (../shared/data/mnist), else three random ones as sparse as digits.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.gradcheck_lab import BUGS, lab_check  # noqa: E402
from engine.network import Network  # noqa: E402

GOAL_MS = 50.0
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def digits() -> tuple[np.ndarray, np.ndarray, str]:
    images = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    if images.is_file():
        from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

        labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)[:3].astype(np.int64)
        return read_idx(images, IMAGES_MAGIC)[:3].reshape(3, -1), labels, "MNIST t10k[:3]"
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 784), dtype=np.uint8)
    x[:, rng.random(784) < 0.8] = 0
    return x, rng.integers(0, 10, 3), "3 random digits (no ../shared)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    x, t, source = digits()
    net = Network(784, [50], 10, "relu", "he", rng=np.random.default_rng(0))
    bugs = [None, *(bug for bug in BUGS if bug.applies_to(net) is None)]
    times: dict[str, list[float]] = {("no bug" if b is None else b.key): [] for b in bugs}
    lab_check(net, x, t, None)  # warm-up: imports, caches
    for _ in range(args.rounds):
        for bug in bugs:
            began = time.perf_counter()
            lab_check(net, x, t, bug)
            times["no bug" if bug is None else bug.key].append(1000 * (time.perf_counter() - began))
    print(f"lab_check, 784-50-10, {source}, {args.rounds} rounds (ms: median, min-max)")
    worst = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        worst = max(worst, median)
        print(f"  {name:20} {median:7.1f}   {min(values):6.1f}-{max(values):.1f}")
    print(f"slowest median {worst:.1f} ms: {'within' if worst <= GOAL_MS else 'OVER'} the {GOAL_MS:.0f} ms goal")
    return 0 if worst <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
