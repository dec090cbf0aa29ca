"""Benchmark: time to a test accuracy, and the share of epoch-end work, at the book's settings.

Run from anywhere:  python bench/scoring_bench.py [--data-dir DIR] [--compare CHECKOUT] [--only NAMES]

The book's recipe (ch05/train_neuralnet.py): 784-50-10 ReLU net, weights drawn with std 0.01,
SGD lr 0.1, batch 100, and after every epoch (600 batches of Fashion-MNIST's 60,000 images) the
accuracy on the whole training and test sets. Each contender trains until a score reaches
--target (default 88% test accuracy) and is timed from the start of training to the moment that
score is known:

* ours: engine.trainer.Trainer with TrainConfig's defaults (the book's settings, as
  `python -m engine train --dataset fashion-mnist` runs them) and a sink that only timestamps
  events; run in a child process of its own, data loaded before the clock starts.
* ours@CHECKOUT (--compare): the same, importing `engine` from another checkout (for instance
  `git worktree add /tmp/before main~3`), to measure a change in the same rounds.
* book: bench/book_baseline.py's TwoLayerNet and train_step, with the book's per-epoch accuracy
  of both sets (its TwoLayerNet.accuracy, float64, the whole set in one pass).
* torch, when `import torch` works: the same net and recipe (float32, one thread, std 0.01
  weights, random batches as the book draws them, both sets scored after every epoch).

For ours the worker's timestamps also give the epoch-end work: the time beyond a median step in
the intervals between batches that contain an epoch end (and, for ours, the sending of a score),
as a share of the wall time; and, when scores run beside training, the median step while one
runs; and the process's CPU time (scoring beside training saves wall time only when a core is
free: on a machine busy with other work the CPU time is what it was). The book's share is its
accuracy passes over its wall time.

Rounds alternate (the order rotates) because this kind of shared VM drifts in speed by tens of
percent; figures are medians with the range over rounds, ratios medians of per-round ratios.
Ours is seeded (seed 0) and so reaches the target at the same epoch in every round and checkout;
the book and torch draw their own batches (seed 0 too) and may reach it at another epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")  # where `apt-get install dataset-fashion-mnist` puts it
SIZES = (784, 50, 10)
LR, BATCH, STD = 0.1, 100, 0.01


# ---- ours, in a child process ---------------------------------------------------------

def ours_child(engine_root: str, data_dir: str, target: float, max_epochs: int) -> dict:
    """Train with the engine found in `engine_root`; the figures of one run (see ours_figures)."""
    sys.path.insert(0, engine_root)
    from engine import events as ev
    from engine.config import TrainConfig
    from engine.loader import load_dataset
    from engine.trainer import Trainer

    dataset = load_dataset("fashion-mnist", data_dir)
    log: list[tuple[float, object]] = []
    reached = threading.Event()

    def sink(event) -> None:
        log.append((time.perf_counter(), event))
        scored = isinstance(event, (ev.EpochDone, ev.Evaluated)) and event.test_acc >= target
        if scored or isinstance(event, (ev.Finished, ev.Failed)):
            reached.set()

    trainer = Trainer(dataset, TrainConfig(dataset="fashion-mnist", epochs=max_epochs), sink)
    cpu, began = time.process_time(), time.perf_counter()
    trainer.start()
    reached.wait()
    cpu = time.process_time() - cpu
    trainer.stop()
    return {**ours_figures(began, log, ev, target), "cpu_s": cpu}


def ours_figures(began: float, log: list, ev, target: float) -> dict:
    """Time to the first score >= target, epoch-end work and steps beside a running score, from the event log."""
    scores = [(when, e) for when, e in log if isinstance(e, (ev.EpochDone, ev.Evaluated))]
    hit = next(((when, e) for when, e in scores if e.test_acc >= target), None)
    end = hit[0] if hit else log[-1][0]
    steps, epoch_end, beside = [], [], []  # intervals: plain steps, with epoch-end work, while a score runs
    previous, ended, sent, scoring = began, True, False, True  # the score before training starts at once
    for when, event in log:
        if when > end:
            break
        if isinstance(event, (ev.EpochDone, ev.Evaluated)):
            sent, scoring = True, False
        elif isinstance(event, ev.BatchDone):
            interval = when - previous
            (epoch_end if ended or sent else beside if scoring else steps).append(interval)
            ended = event.epoch.is_integer()
            previous, sent, scoring = when, False, scoring or ended
    step = statistics.median(steps)
    extra = sum(i - step for i in epoch_end) + (end - previous)  # the tail: from the last batch to the score
    wall = end - began
    return {
        "seconds": wall if hit else None,
        "epoch": hit[1].epoch if hit and isinstance(hit[1], ev.EpochDone) else None,
        "test_acc": hit[1].test_acc if hit else max(e.test_acc for _, e in scores),
        "epoch_end_share": extra / wall,
        "step_ms": step * 1e3,
        "beside_ms": statistics.median(beside) * 1e3 if beside else None,
        "batches": len(steps) + len(epoch_end) + len(beside),
    }


def ours_round(engine_root: Path, args) -> dict:
    command = [sys.executable, __file__, "--child", str(engine_root), "--data-dir", str(args.data_dir),
               "--target", str(args.target), "--max-epochs", str(args.max_epochs)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


# ---- the book and torch, in this process ----------------------------------------------

def load_arrays(data_dir: Path):
    """(x_train, t_train, x_test, t_test): uint8 images (N, 784) and integer labels, read by our IDX reader."""
    sys.path.insert(0, str(ROOT))
    from engine.loader import load_dataset

    data = load_dataset("fashion-mnist", data_dir)
    return data.x_train, data.t_train, data.x_test, data.t_test


def book_round(arrays, args) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import book_baseline as book
    import numpy as np

    x_train, t_train, x_test, t_test = arrays
    x_train, x_test = book.normalize(x_train), book.normalize(x_test)  # load_mnist's work, before the clock
    t_train, t_test = book.change_one_hot_label(t_train), book.change_one_hot_label(t_test)
    np.random.seed(0)
    network = book.TwoLayerNet(*SIZES, weight_init_std=STD)
    iter_per_epoch = max(len(x_train) / BATCH, 1)
    scoring = 0.0
    began = time.perf_counter()
    for i in range(int(args.max_epochs * iter_per_epoch) + 1):
        book.train_step(network, x_train, t_train, BATCH, LR)
        if i % iter_per_epoch == 0:
            scored = time.perf_counter()
            network.accuracy(x_train, t_train)
            test_acc = network.accuracy(x_test, t_test)
            now = time.perf_counter()
            scoring += now - scored
            if test_acc >= args.target:
                return {"seconds": now - began, "epoch": int(i // iter_per_epoch), "test_acc": test_acc,
                        "epoch_end_share": scoring / (now - began)}
    return {"seconds": None, "epoch": None, "test_acc": test_acc, "epoch_end_share": scoring / (now - began)}


def torch_round(arrays, args) -> dict:
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    import book_baseline as book

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_train, t_train, x_test, t_test = arrays
    x, t = torch.from_numpy(book.normalize(x_train)), torch.from_numpy(t_train.astype("int64"))
    xt, tt = torch.from_numpy(book.normalize(x_test)), torch.from_numpy(t_test.astype("int64"))
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(), torch.nn.Linear(SIZES[1], SIZES[2]))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.normal_(0, STD)
            layer.bias.zero_()
    loss_fn, optimizer = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(0)
    iter_per_epoch = len(x) // BATCH
    began = time.perf_counter()
    for i in range(args.max_epochs * iter_per_epoch + 1):
        idx = torch.randint(0, len(x), (BATCH,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), t[idx])
        loss.backward()
        optimizer.step()
        loss.item()  # the loss as a Python float, as our trainer reports it every step
        if i % iter_per_epoch == 0:
            with torch.no_grad():
                (model(x).argmax(1) == t).float().mean().item()
                test_acc = (model(xt).argmax(1) == tt).float().mean().item()
            if test_acc >= args.target:
                return {"seconds": time.perf_counter() - began, "epoch": i // iter_per_epoch, "test_acc": test_acc}
    return {"seconds": None, "epoch": None, "test_acc": test_acc}


def torch_version() -> str | None:
    try:
        import torch
    except Exception:  # not installed, or broken: the comparison is skipped
        return None
    return torch.__version__


# ---- main -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="Fashion-MNIST's four files")
    parser.add_argument("--target", type=float, default=0.88, help="test accuracy to reach (default 0.88)")
    parser.add_argument("--max-epochs", type=int, default=60, help="give up after this many epochs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT", help="also time the engine of this checkout")
    parser.add_argument("--only", help="comma-separated contenders: ours, ours@CHECKOUT's name, book, torch")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one run of ours with this engine
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ours_child(args.child, str(args.data_dir), args.target, args.max_epochs)))
        return

    arrays = load_arrays(args.data_dir)
    runners = {"ours": lambda: ours_round(ROOT, args)}
    if args.compare:
        runners[f"ours@{args.compare.name}"] = lambda: ours_round(args.compare.resolve(), args)
    runners["book"] = lambda: book_round(arrays, args)
    version = torch_version()
    if version:
        runners["torch"] = lambda: torch_round(arrays, args)
    if args.only:
        runners = {name: run for name, run in runners.items() if name in args.only.split(",")}
    print(f"Fashion-MNIST from {args.data_dir}: {len(arrays[0]):,} train / {len(arrays[2]):,} test; net "
          f"{'-'.join(map(str, SIZES))}, std {STD}, SGD lr {LR}, batch {BATCH}, both sets scored every epoch; "
          f"target test accuracy {args.target:.0%}")
    print(f"{os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
          f"torch {version or 'not installed'}; {args.rounds} alternating rounds")

    names = list(runners)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            result = runners[name]()
            results[name].append(result)
            print(f"  round {r + 1} {name:>12s}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in result.items()), flush=True)
    print()
    for name, rounds in results.items():
        print(f"{name:>12s}: {_spread([x['seconds'] for x in rounds], 's')} to {args.target:.0%} "
              f"(epoch {_fmt([x['epoch'] for x in rounds][-1])})"
              + (f"; epoch-end work {_spread([100 * x['epoch_end_share'] for x in rounds], '%')} of the time"
                 if "epoch_end_share" in rounds[0] else "")
              + (f"; step {_spread([x['step_ms'] for x in rounds], ' ms')}" if "step_ms" in rounds[0] else "")
              + (f", beside a running score {_spread([x['beside_ms'] for x in rounds], ' ms')}"
                 if rounds[0].get("beside_ms") else "")
              + (f"; CPU {_spread([x['cpu_s'] for x in rounds], 's')}" if "cpu_s" in rounds[0] else ""))
    for name in names[1:]:
        ratios = [o["seconds"] / s["seconds"] for s, o in zip(results[names[0]], results[name])
                  if s["seconds"] and o["seconds"]]
        if ratios:
            print(f"time to {args.target:.0%}, {name} / {names[0]}: median {statistics.median(ratios):.2f}x "
                  f"(per round {min(ratios):.2f}-{max(ratios):.2f})")


def _spread(values: list, unit: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "not reached"
    return f"{statistics.median(values):.3g}{unit} ({min(values):.3g}-{max(values):.3g})"


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
