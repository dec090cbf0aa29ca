"""Bounded history: what a run's log costs per iteration, and an attached monitor's memory and loss-plot data
step over a long run. Goals (issue 14, item 4): the log <= 40 bytes per iteration; the monitor's RSS grows
<= 10 MB from 100k to 2M iterations; the loss plot's data step <= 5 ms at 2M.

1. A real run's log: the real Trainer and RunLog at the default settings on Fashion-MNIST (Debian's files
   when installed, else generated data of its shape) for --real-iters iterations; its bytes per iteration,
   and what the same records took one per batch as before (re-encoded from it).
2. A synthetic log of --iters iterations written by the real RunLog, as that run's records come: a
   BatchDone per iteration, a LayerStats (the real run's) every 200 and an EpochDone every 600.
3. Per round (--rounds), a fresh process follows that log as an attached monitor does (LogFollower into
   MonitorState, no terminal) and reports its RSS at 100k iterations and at the end, and the loss plot's data
   step (tui.widgets.loss_plot.loss_lines, 110 columns, log scale, with the EMA) there, against the data step
   as it was (YAxis.fit and envelope over lists of every point) on lists of the same length, alternating.

Run: python bench/history_bench.py [--iters 2000000] [--real-iters 12000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from engine import events as ev  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.runs import RunLog, log_line, new_run_dir, read_events  # noqa: E402

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FIRST_MARK = 100_000
COLUMNS = 110  # the loss plot at 120 columns
TIMINGS = 30  # data steps timed per mark


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def dataset():
    from engine.dataset import Dataset
    from engine.loader import load_dataset

    if DEBIAN_FASHION.is_dir():
        return load_dataset("fashion-mnist", DEBIAN_FASHION, warn=lambda message: None), "Debian's Fashion-MNIST"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 70_000).astype(np.uint8)
    images = rng.integers(0, 60, (70_000, 784)).astype(np.uint8)
    images[np.arange(70_000), labels * 70] = 255  # learnable: the class lights a pixel
    return Dataset("fashion-mnist", images[:60_000], labels[:60_000], images[60_000:], labels[60_000:],
                   (28, 28), tuple("0123456789")), "generated data of Fashion-MNIST's shape"


def real_run(root: Path, iters: int) -> tuple[ev.LayerStats, dict]:
    """The real trainer's log at the default settings: its bytes per iteration, now and one record per batch."""
    from engine.trainer import Trainer

    data, what = dataset()
    config = TrainConfig(dataset="fashion-mnist", iters=iters)
    log = RunLog(new_run_dir(root, config, "784-50-10"))
    stats = []
    log.forward = lambda event: stats.append(event) if isinstance(event, ev.LayerStats) else None
    trainer = Trainer(data, config, log)
    log.attach(trainer)
    trainer.start()
    trainer.join()
    log.close()
    size = (log.run_dir / "events.jsonl").stat().st_size
    before = sum(len(json.dumps(record)) + 1 for record in read_events(log.run_dir))
    return stats[-1], {"data": what, "iterations": iters, "bytes_per_iteration": size / iters,
                       "one_record_per_batch": before / iters}


def synthetic_log(root: Path, iters: int, stats: ev.LayerStats) -> tuple[Path, float]:
    """A run of `iters` iterations, its records as the real run makes them; (its folder, seconds to write)."""
    run = new_run_dir(root, TrainConfig(dataset="fashion-mnist"), "784-50-10")
    rng = np.random.default_rng(0)
    log, began = RunLog(run), time.perf_counter()
    for start in range(0, iters, 100_000):
        n = min(100_000, iters - start)
        i = np.arange(start + 1, start + n + 1)
        losses = ((2.3 * np.exp(-i / 3000) + 0.3 * np.exp(-i / 300_000) + 0.05) * rng.uniform(0.5, 1.5, n))
        for iteration, loss in zip(i.tolist(), losses.astype(np.float32).tolist()):
            log(ev.BatchDone(iteration, iteration / 600, loss, 0.1, 60_000.0))
            if iteration % 200 == 0:
                log(ev.LayerStats(iteration, stats.layers))
            if iteration % 600 == 0:
                log(ev.EpochDone(iteration // 600, iteration, 0.9, 0.88))
    log.close()
    return run, time.perf_counter() - began


def follow(run: Path) -> dict:
    """One round, in this (fresh) process: an attached monitor's memory and its loss plot's data step."""
    from engine.runs import LogFollower
    from tui.state import MonitorState, envelope
    from tui.widgets.loss_plot import loss_lines
    from tui.widgets.plot_values import YAxis

    def data_step(state) -> float:
        began = time.perf_counter()
        loss_lines(state, COLUMNS, log=True, smoothing=True)
        return time.perf_counter() - began

    def data_step_before(iterations: list, losses: list, smoothed: list) -> float:
        began = time.perf_counter()
        values = np.asarray(losses, dtype=np.float64)
        axis = YAxis.fit([values, smoothed], log=True)
        envelope(iterations, axis.place(values), COLUMNS)
        envelope(iterations, axis.place(smoothed), COLUMNS, mean=True)
        axis.mark(None, iterations, values, COLUMNS)  # (nothing is moved here: plotext is never called)
        return time.perf_counter() - began

    state, follower = MonitorState(TrainConfig()), LogFollower(run)
    gc.collect()
    result = {"rss_start_mb": rss_mb()}
    began = time.perf_counter()
    while not follower.caught_up:
        for event in follower.poll():
            state.apply(event)
        if "rss_100k_mb" not in result and state.iteration >= FIRST_MARK:
            gc.collect()
            result.update(rss_100k_mb=rss_mb(), iteration_100k=state.iteration,
                          data_step_100k_ms=1e3 * statistics.median(data_step(state) for _ in range(TIMINGS)))
    gc.collect()
    result.update(follow_s=time.perf_counter() - began, rss_end_mb=rss_mb(), iteration_end=state.iteration,
                  stored_blocks=state.losses.stored() + state.smoothed.stored())
    # The data step as it was, on lists as long as the run (made after the RSS was read), alternating with ours.
    n = state.iteration
    iterations = list(range(1, n + 1))
    losses = np.random.default_rng(0).uniform(0.05, 2.3, n).tolist()
    smoothed = losses
    ours, before = [], []
    for _ in range(5):
        ours.append(statistics.median(data_step(state) for _ in range(TIMINGS)))
        before.append(data_step_before(iterations, losses, smoothed))
    result.update(data_step_end_ms=1e3 * statistics.median(ours), data_step_before_ms=1e3 * statistics.median(before),
                  data_step_ratio=statistics.median(b / o for b, o in zip(before, ours)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2_000_000)
    parser.add_argument("--real-iters", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--follow", help=argparse.SUPPRESS)  # one round, in a fresh process
    args = parser.parse_args()
    if args.follow:
        print(json.dumps(follow(Path(args.follow))))
        return
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        stats, real = real_run(Path(tmp) / "real", args.real_iters)
        print(f"1. a real run's log ({real['data']}, default settings, {real['iterations']:,} iterations): "
              f"{real['bytes_per_iteration']:.1f} bytes per iteration (one record per batch as before: "
              f"{real['one_record_per_batch']:.1f}); a LayerStats record is {len(log_line(stats)):,} bytes", flush=True)
        run, seconds = synthetic_log(Path(tmp) / "synthetic", args.iters, stats)
        size = (run / "events.jsonl").stat().st_size
        print(f"2. synthetic log: {args.iters:,} iterations, {size / 2**20:.1f} MiB, {size / args.iters:.1f} bytes per "
              f"iteration, written in {seconds:.1f} s", flush=True)
        rounds = []
        for r in range(args.rounds):
            out = subprocess.run([sys.executable, __file__, "--follow", str(run)], capture_output=True, text=True,
                                 check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            rounds.append(json.loads(out.stdout))
            x = rounds[-1]
            print(f"3.{r + 1} monitor RSS {x['rss_start_mb']:.1f} MB at the start, {x['rss_100k_mb']:.1f} MB at "
                  f"{x['iteration_100k']:,}, {x['rss_end_mb']:.1f} MB at {x['iteration_end']:,} (grew "
                  f"{x['rss_end_mb'] - x['rss_100k_mb']:+.1f} MB; {x['stored_blocks']:,} blocks held); data step "
                  f"{x['data_step_100k_ms']:.2f} ms at 100k, {x['data_step_end_ms']:.2f} ms at the end (as before: "
                  f"{x['data_step_before_ms']:.0f} ms, {x['data_step_ratio']:.0f}x); read in {x['follow_s']:.1f} s",
                  flush=True)
        growth = [x["rss_end_mb"] - x["rss_100k_mb"] for x in rounds]
        step = [x["data_step_end_ms"] for x in rounds]
        print(f"summary: RSS growth 100k -> {args.iters:,}: {min(growth):+.1f} to {max(growth):+.1f} MB (goal <= 10); "
              f"data step at the end {min(step):.2f}-{max(step):.2f} ms (goal <= 5); log "
              f"{real['bytes_per_iteration']:.1f} bytes per iteration (real run), {size / args.iters:.1f} (synthetic) "
              "(goal <= 40)")


if __name__ == "__main__":
    main()
