"""Benchmark: our engine against the book's code (and PyTorch, when installed).

Run from anywhere:  python bench/engine_bench.py  [--quick]

One run prints:

* training throughput (iterations/s) of the 784-50-10 net, SGD lr 0.1, at
  batch 100 and batch 1000, for
    - ours: the real engine.trainer.Trainer running in its worker thread, with
      a sink that only records a timestamp per event and preview_count=0. The
      time of a step is the interval between two consecutive BatchDone events,
      which covers everything the worker does per batch (command queue, batch
      gather and uint8->float conversion, forward, backward, finiteness check,
      SGD update, event). Intervals while an end-of-epoch score runs (in the
      scorer's thread, from the epoch's last batch until the score is sent) are
      left out: that is evaluation, not a training step.
    - the book: bench/book_baseline.py's train_step (ch05/train_neuralnet.py's
      loop body: random batch, gradient, update, then loss on the batch again);
    and the ratio ours / book;
* the full gradient check (engine.gradcheck.gradient_check, float64, all
  39,760 parameters, 3 samples) against the book's
  TwoLayerNet.numerical_gradient on the same 3 samples and the same weights,
  their times and ratio, and the mean |backprop - numerical| per parameter;
* if `import torch` works: the same net in PyTorch (float32, Linear-ReLU-Linear,
  CrossEntropyLoss, SGD, batch 100, one thread) and our ratio to it.

Data: 8,000 real MNIST test digits when the shared data folder exists
(/work/shared or ../shared relative to the repo), else random uint8 images of
the same shape (the printout says which); the other 2,000 are the test set the
trainer's end-of-epoch evaluation scores (also printed: ours including those
evaluations, one per 8,000 samples trained).

Timing: this is a shared VM whose speed drifts by tens of percent within
seconds, so ours, the book and torch run in alternating rounds (a warm-up, then
a block of timed steps each; the order rotates every round). Printed rates are
medians over rounds; ratios are medians of the per-round ratios. The gradient
checks are timed best of 5 (ours) and best of 2 (the book; 1 with --quick).

The book's mean |diff| is larger than ours because its loss adds 1e-7 inside
the log, which its backward pass ignores (a ~1e-6 relative mismatch when the
softmax output is ~0.1); our loss is the exact log-sum-exp form.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import book_baseline as book  # noqa: E402
import numpy as np  # noqa: E402

from engine import events as ev  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.dataset import Dataset  # noqa: E402
from engine.gradcheck import gradient_check  # noqa: E402
from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx  # noqa: E402
from engine.network import TwoLayerNet  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

TRAIN_SIZE = 8000
SIZES = (784, 50, 10)
LR = 0.1


# ---- data -----------------------------------------------------------------------

def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train, t_train, x_test, t_test, description): uint8 images (N, 784) and integer labels."""
    for shared in (Path("/work/shared"), ROOT.parent / "shared"):
        folder = shared / "data" / "mnist"
        images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
        if images.is_file() and labels.is_file():
            x = read_idx(images, IMAGES_MAGIC).reshape(-1, SIZES[0])
            t = read_idx(labels, LABELS_MAGIC)
            desc = f"real MNIST test digits from {folder} ({TRAIN_SIZE} to train on, {len(x) - TRAIN_SIZE} held out)"
            return x[:TRAIN_SIZE], t[:TRAIN_SIZE], x[TRAIN_SIZE:], t[TRAIN_SIZE:], desc
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (TRAIN_SIZE + 2000, SIZES[0]), dtype=np.uint8)
    t = rng.integers(0, 10, TRAIN_SIZE + 2000).astype(np.uint8)
    desc = "GENERATED random uint8 images (no shared MNIST folder found): timings only, nothing is learned"
    return x[:TRAIN_SIZE], t[:TRAIN_SIZE], x[TRAIN_SIZE:], t[TRAIN_SIZE:], desc


# ---- timing helpers ---------------------------------------------------------------
#
# This is a shared 2-core VM whose speed drifts by tens of percent over seconds,
# so ours and the book are timed in alternating rounds, and the ratio printed is
# the median of the per-round ratios (both sides measured under the same drift).

class StepTimer:
    """A trainer sink that times steps: the intervals between consecutive BatchDone events during
    which no score ran (in the scorer's thread, from an epoch's last batch until its score is sent)
    and none was sent. `enough` is set once `wanted` of them are in."""

    def __init__(self, wanted: int):
        self.wanted, self.enough = wanted, threading.Event()
        self.intervals: list[float] = []
        self.batches: list[float] = []  # when each BatchDone came
        self.failed: list[ev.Failed] = []
        self._scoring = self._tainted = True  # the score before training runs from the start

    def __call__(self, event) -> None:
        when = time.perf_counter()
        if isinstance(event, (ev.EpochDone, ev.Evaluated)):
            self._scoring, self._tainted = False, True
        elif isinstance(event, ev.BatchDone):
            if self.batches and not self._tainted:
                self.intervals.append(when - self.batches[-1])
            self.batches.append(when)
            self._scoring = self._scoring or event.epoch.is_integer()  # an epoch's last batch: its score starts
            self._tainted = self._scoring
            if len(self.intervals) >= self.wanted:
                self.enough.set()
        elif isinstance(event, ev.Failed):
            self.failed.append(event)
            self.enough.set()


def ours_round(dataset: Dataset, batch: int, warmup: int, block: int) -> tuple[float, float]:
    """One round through the real Trainer: (it/s over `block` steps, it/s including epoch evaluations).

    A step is a StepTimer interval; the first `warmup` are skipped. The trainer runs until there are enough.
    """
    config = TrainConfig(hidden_sizes=(SIZES[1],), optimizer="sgd", lr=LR, batch_size=batch,
                         iters=100 * (warmup + block), preview_count=0, seed=0)
    timer = StepTimer(warmup + block)
    trainer = Trainer(dataset, config, sink=timer)
    trainer.start()
    timer.enough.wait(600)
    trainer.stop()
    if timer.failed or len(timer.intervals) < warmup + block:
        raise SystemExit(f"trainer ended as {trainer.state}: {timer.failed}")
    clean = timer.intervals[warmup : warmup + block]
    batches = timer.batches
    wall = (len(batches) - 1 - warmup) / (batches[-1] - batches[warmup])
    return block / sum(clean), wall


def timed_round(step, warmup: int, block: int) -> float:
    """it/s of `block` calls of step() after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    began = time.perf_counter()
    for _ in range(block):
        step()
    return block / (time.perf_counter() - began)


def book_stepper(data, batch: int):
    x_train, t_train, *_ = data
    np.random.seed(0)
    network = book.TwoLayerNet(*SIZES)
    x, t = book.normalize(x_train), book.change_one_hot_label(t_train)
    return lambda: book.train_step(network, x, t, batch, LR)


def torch_stepper(data, batch: int):
    """A step of the same net in PyTorch, or None when torch cannot be imported."""
    try:
        import torch
    except Exception:  # not installed, or broken: the comparison is skipped
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_train, t_train, *_ = data
    x = torch.from_numpy(book.normalize(x_train))
    t = torch.from_numpy(t_train.astype(np.int64))
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(), torch.nn.Linear(SIZES[1], SIZES[2]))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(0)

    def step() -> float:
        idx = torch.randint(0, len(x), (batch,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), t[idx])
        loss.backward()
        optimizer.step()
        return loss.item()  # the loss as a Python float, as our trainer reports it every step

    step.version = torch.__version__
    return step


def compare_training(data, batch: int, warmup: int, block: int, rounds: int, others: dict) -> dict:
    """Alternating rounds of ours and each of `others` (name -> step function).

    Returns {name: median it/s} for "ours" and the others, {name: median of
    per-round ours/other ratios} under "ratio", and ours including evaluations under "wall".
    """
    x_train, t_train, x_test, t_test, _ = data
    dataset = Dataset("bench", x_train, t_train, x_test, t_test)
    runners = {"ours": lambda: ours_round(dataset, batch, warmup, block)}
    runners.update({name: (lambda step=step: (timed_round(step, warmup, block), None)) for name, step in others.items()})
    names = list(runners)
    rates: dict[str, list[float]] = {name: [] for name in names}
    walls = []
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            rate, wall = runners[name]()
            rates[name].append(rate)
            if wall is not None:
                walls.append(wall)
    result = {name: statistics.median(v) for name, v in rates.items()}
    ratios = {name: [o / b for o, b in zip(rates["ours"], rates[name])] for name in others}
    result["ratio"] = {name: statistics.median(v) for name, v in ratios.items()}
    result["spread"] = {name: f"per-round {min(v):.2f}-{max(v):.2f}" for name, v in ratios.items()}
    result["wall"] = statistics.median(walls)
    return result


# ---- gradient check ---------------------------------------------------------------

def gradcheck_compare(data, repeats_ours: int, repeats_book: int):
    x_train, t_train, *_ = data
    np.random.seed(0)
    book_net = book.TwoLayerNet(*SIZES)
    x3 = book.normalize(x_train[:3])  # float32, as the book's gradient_check.py feeds it
    t3 = book.change_one_hot_label(t_train[:3])

    ours = TwoLayerNet(*SIZES, dtype=np.float64)
    for key, value in book_net.params.items():
        ours.params[key][...] = value  # the same weights, written into the arrays the layers hold

    ours_times, rows = [], None
    for _ in range(repeats_ours):
        began = time.perf_counter()
        rows = gradient_check(ours, x3.astype(np.float64), t_train[:3])
        ours_times.append(time.perf_counter() - began)

    book_times, numeric = [], None
    for _ in range(repeats_book):
        began = time.perf_counter()
        numeric = book_net.numerical_gradient(x3, t3)
        book_times.append(time.perf_counter() - began)
    backprop = book_net.gradient(x3, t3)
    book_diffs = {key: float(np.average(np.abs(backprop[key] - numeric[key]))) for key in numeric}
    return min(ours_times), rows, min(book_times), book_diffs


def matmul_probe() -> float:
    """Microseconds for one (100, 784) @ (784, 50) float32 matmul, best of 5x200: how fast the machine is right now."""
    rng = np.random.default_rng(0)
    a = rng.random((100, 784), dtype=np.float32)
    b = rng.random((784, 50), dtype=np.float32)
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(200):
            a @ b
        best = min(best, (time.perf_counter() - began) / 200)
    return best * 1e6


# ---- main -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timing blocks (noisier)")
    args = parser.parse_args()
    scale = 3 if args.quick else 1

    data = load_data()
    print(f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(f"data: {data[4]}")
    print(f"net {'-'.join(map(str, SIZES))}, SGD lr {LR}; rates: medians over alternating rounds (after warm-up); "
          "ratio: median of per-round ratios")
    print("ours = engine.trainer.Trainer in its worker thread (preview_count=0, timestamp-only sink), "
          "end-of-epoch evaluations excluded")
    print("book = bench/book_baseline.py train_step (float64 params, one-hot labels, extra loss forward as in the book)")
    print(f"machine probe: float32 (100x784)@(784x50) matmul {matmul_probe():.1f} us "
          "(~70 us when this VM is quiet; higher means a busy host and noisier ratios)")
    print()

    torch_step = None
    for batch, block, rounds in ((100, 200, 15), (1000, 30, 9)):
        block //= scale
        rounds = max(3, rounds // scale)
        warmup = max(10, block // 5)
        others = {"book": book_stepper(data, batch)}
        if batch == 100:
            torch_step = torch_stepper(data, batch)
            if torch_step is not None:
                others["torch"] = torch_step
        r = compare_training(data, batch, warmup, block, rounds, others)
        print(f"training, batch {batch:4d}:  ours {r['ours']:8.1f} it/s   book {r['book']:7.1f} it/s   "
              f"ratio {r['ratio']['book']:5.2f}x ({r['spread']['book']})")
        print(f"    ({rounds} alternating rounds of {block} steps; ours including its end-of-epoch evaluations: "
              f"{r['wall']:.1f} it/s)")
        if "torch" in others:
            torch_line = (f"torch {torch_step.version} (float32, Linear-ReLU-Linear, CrossEntropyLoss, SGD, 1 thread), "
                          f"batch 100: {r['torch']:.1f} it/s   ours / torch {r['ratio']['torch']:.2f}x "
                          f"({r['spread']['torch']}; timed in the same alternating rounds)")

    print()
    g_ours, rows, g_book, book_diffs = gradcheck_compare(data, repeats_ours=5, repeats_book=1 if args.quick else 2)
    print(f"gradient check, 3 samples, all {sum(r.checked for r in rows)} parameters, float64:")
    print(f"  ours engine.gradcheck.gradient_check {g_ours * 1e3:9.1f} ms   "
          f"book TwoLayerNet.numerical_gradient {g_book * 1e3:9.1f} ms   ratio {g_book / g_ours:6.1f}x")
    print(f"  {'param':5s} {'ours mean|diff|':>16s} {'book mean|diff|':>16s}  ours passed (kinks excluded)")
    for row in rows:
        print(f"  {row.name:5s} {row.mean_abs_diff:16.3e} {book_diffs[row.name]:16.3e}  "
              f"{'yes' if row.passed else 'NO'} ({row.kinks} kinks)")

    print()
    print(torch_line if torch_step is not None else "torch: not installed, skipped")
    print(f"machine probe at the end: {matmul_probe():.1f} us")


if __name__ == "__main__":
    main()
