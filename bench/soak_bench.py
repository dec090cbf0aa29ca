"""Benchmark (soak): over two hours' worth of redraws, do the Monitor plots keep a flat memory, and does
redrawing unchanged data send nothing?

Run from anywhere:  python bench/soak_bench.py  [--redraws 7200] [--batches 1200] [--check-every 100]
                                                [--tracemalloc]

Issue 15: "2 hours of redraws once a second (or the equivalent count with a scripted clock) shows flat
memory and an unchanged frame for unchanged data". plotext has a reported slow memory growth over many
hours of redraws; this replays such a run with the redraw count as its clock (no sleeping).

The app (BackpropApp on the scripted trainer of tests/fakes.py, via tests/tui/harness.py) runs under
App.run_test() at 120x40 on the Monitor tab. Its driver is made to render every screen update to escape
sequences as a terminal's would (a headless driver skips that), counting the bytes and discarding them.
The events a real run sends are folded into the app's MonitorState, as its tick does: Started (784-50-10,
SGD, batch 100, 60,000 training digits: 600 batches an epoch; --iters = the whole soak, so the x axis is
planned as in a run with --iters), then per redraw --batches BatchDone events (default 1,200: one redraw
a second of a run at the engine's rate under the app, 1,163-1,263 it/s in the README's ui_bench figures),
an EpochDone with its accuracy at every epoch's end (accuracy points are thinned past 1,024), and an
lr change (a marker on the loss plot) at each tenth of the run. After each redraw's events both plots
redraw (LossPlot, AccuracyPlot: plotext draws a frame, it is diffed with the last one, the changed
cells refresh) and the screen update is rendered.

Measured:
- the process's resident memory (RSS, /proc/self/statm; garbage collected first) after the warm-up
  (--warmup redraws, default 60: the first minute) and after each 10% of the run. Beside it, two things
  that grow by design: the bytes the MonitorState's loss pyramids have allocated (engine/history.py: a
  level of 160 KB for each of the two every time the run doubles, so about 1.1 MB from 10% to 100%),
  and the entries of three bounded caches of rich and Textual that the redraws fill over hours
  (rich.cells.cached_cell_len, 4,096 entries; textual.geometry.Region.intersection, 4,096;
  Region.translate, 1,024: about 0.8 + 2.1 MB of traced memory when full); with --tracemalloc,
  Python's traced memory too (which makes the run about 5x slower);
- each plot's frame cost (TimedPlot.cost: plotext's drawing and the frame's strips): median and max (ms);
  the time of each plot's redraw() (the frame, the diff, the refreshes) and of a whole step (the
  events folded in, both plots' redraw, the screen update rendered);
- unchanged frame for unchanged data: every --check-every redraws (and at each 10%), both plots are
  redrawn twice more with no new data; printed: the cells those two redraws sent (must be 0), whether
  each plot's lines equal those of the redraw before, and the bytes the screen updates wrote.

Verdict: memory is flat when RSS grows by at most 5 MB from 10% to 100% beyond the pyramids' own
growth (the run's data, by design, printed). The bound: the caches above hold up to about 3 MB when
full, and part of that is filled by 10%; the allocator's arenas move by a few hundred KB; a leak of
0.4 KB per plot frame (13,000 frames from 10% to 100% of the default run) would exceed it. The growth
is also printed per redraw from 10% to 50% and from 50% to 100%: a leak keeps its rate, caches that
fill up slow down. And unchanged data must send 0 cells with equal lines at every check.
The exit status is 0 when both hold, 1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.cells import cached_cell_len  # noqa: E402
from textual.drivers.headless_driver import HeadlessDriver  # noqa: E402
from textual.geometry import Region  # noqa: E402

from engine import events as ev  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from tests.tui.harness import fake_app, running  # noqa: E402

SIZE = (120, 40)
TRAIN_SIZE, BATCH = 60_000, 100
GROWTH_BOUND_MB = 5.0
MB = 1e6
CACHES = (cached_cell_len, Region.intersection, Region.translate)  # lru_cache: 4096, 4096 and 1024 entries


class CountingDriver(HeadlessDriver):
    """A headless driver the app renders its updates for, as for a terminal; the bytes are counted, not kept."""

    written = 0

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CountingDriver.written += len(data.encode())

    def flush(self) -> None:
        pass


def say(*args) -> None:
    """Print to the real stdout: while the app runs, Textual captures sys.stdout."""
    print(*args, file=sys.__stdout__, flush=True)


def rss() -> float:
    """Resident memory of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def caches_filled() -> str:
    """The entries of the bounded caches of rich and Textual that fill up over hours of redraws (see above)."""
    return " ".join(str(cache.cache_info().currsize) for cache in CACHES)


def pyramid_bytes(state) -> int:
    """What the state's loss pyramids have allocated. Private: a Pyramid has no public size in bytes."""
    return sum(level.blocks.nbytes for pyramid in (state.losses, state.smoothed) for level in pyramid._levels)


class ScriptedRun:
    """The events of a run of `redraws` x `batches` batches, a redraw's worth at a time: losses falling
    from 2.3 with batch noise, accuracy rising at each epoch's end, the lr halved at each tenth."""

    def __init__(self, redraws: int, batches: int):
        self.batches = batches
        self.samples_per_s = float(batches * BATCH)  # a redraw a second
        self.config = TrainConfig(hidden_sizes=(50,), iters=redraws * batches, batch_size=BATCH)
        self.iteration = 0
        self.lr = self.config.lr
        self.tenth = max(redraws // 10, 1)

    def started(self) -> ev.Started:
        return ev.Started(self.config, "784-50-10", "mnist", TRAIN_SIZE, 10_000)

    def next(self, redraw: int) -> list:
        events = []
        per_epoch, scale = TRAIN_SIZE // BATCH, self.config.iters / 10
        for _ in range(self.batches):
            i = self.iteration = self.iteration + 1
            loss = 2.2 * math.exp(-i / scale) + 0.05 + 0.04 * math.sin(i * 0.7) ** 2 + 0.02 * math.sin(i * 0.013)
            events.append(ev.BatchDone(i, i * BATCH / TRAIN_SIZE, loss, self.lr, self.samples_per_s))
            if i % per_epoch == 0:
                test = 0.1 + 0.87 * (1 - math.exp(-i / scale)) + 0.003 * math.sin(i)
                events.append(ev.EpochDone(i // per_epoch, i, min(test + 0.015, 1.0), test))
        if redraw % self.tenth == 0:
            events.append(ev.ParamChanged("lr", self.lr, self.lr / 2, self.iteration))
            self.lr /= 2
        return events


async def redraw(pilot, plots, spent: dict[str, list[float]] | None = None) -> None:
    """Both plots redrawn (each one's redraw() timed into `spent`), then the screen's update rendered."""
    for plot in plots:
        began = time.perf_counter()
        plot.redraw()
        if spent is not None:
            spent[type(plot).__name__].append(time.perf_counter() - began)
    await pilot.pause(0)  # (pause(0) runs the screen's update at once; pause() would wait for the CPU to idle)


async def unchanged(pilot, plots) -> tuple[int, bool, int]:
    """Both plots redrawn twice with no new data: the cells sent, whether every frame equalled the one
    before, the bytes written."""
    cells, bytes_before = sum(p.cells_sent for p in plots), CountingDriver.written
    equal = True
    for _ in range(2):
        before = [p.lines for p in plots]
        await redraw(pilot, plots)
        equal &= all(p.lines == lines for p, lines in zip(plots, before))
    return sum(p.cells_sent for p in plots) - cells, equal, CountingDriver.written - bytes_before


def ms(values: list[float]) -> str:
    return f"median {1000 * statistics.median(values):.1f} ms, max {1000 * max(values):.1f} ms"


@dataclass
class Figures:
    tenth: int  # the redraw at 10% of the run
    warmup: int
    rss: dict[int, float] = field(default_factory=dict)  # at the warm-up and each 10%, by redraw
    pyramids: dict[int, float] = field(default_factory=dict)
    traced: dict[int, float] = field(default_factory=dict)
    costs: dict[str, list[float]] = field(default_factory=dict)  # each plot's frames ...
    spent: dict[str, list[float]] = field(default_factory=dict)  # ... and redraw() calls
    steps: list[float] = field(default_factory=list)
    checks: int = 0
    check_cells: int = 0
    check_bytes: int = 0
    all_equal: bool = True
    batches: int = 0
    accuracy_points: int = 0
    markers: int = 0
    seconds: float = 0.0


async def soak(args) -> Figures:
    app = fake_app()
    async with running(app, size=SIZE) as pilot:
        app._driver.__class__ = CountingDriver  # private: the app's driver, made to render (Pilot drives the rest)
        plots = [app.monitor_pane.loss_plot, app.monitor_pane.accuracy_plot]
        state = app.monitor
        run = ScriptedRun(args.redraws, args.batches)
        state.apply(run.started())
        f = Figures(tenth=max(args.redraws // 10, 1), warmup=min(args.warmup, max(args.redraws // 10, 1)))
        f.costs = {type(p).__name__: [] for p in plots}
        f.spent = {name: [] for name in f.costs}
        began = time.perf_counter()
        say(f"{'redraw':>7} {'done':>5} {'RSS MB':>7} {'since start':>11} {'pyramids MB':>11} {'caches filled':>16}"
            f"{' traced MB' if args.tracemalloc else ''} {'elapsed s':>9}  unchanged data: cells, equal, bytes")
        for r in range(1, args.redraws + 1):
            step = time.perf_counter()
            for event in run.next(r):
                state.apply(event)
            await redraw(pilot, plots, f.spent)
            f.steps.append(time.perf_counter() - step)
            for plot in plots:
                f.costs[type(plot).__name__].append(plot.cost)
            at_tenth = r % f.tenth == 0 or r == args.redraws
            if r % args.check_every == 0 or at_tenth:
                cells, equal, written = await unchanged(pilot, plots)
                f.checks, f.check_cells, f.check_bytes = f.checks + 1, f.check_cells + cells, f.check_bytes + written
                f.all_equal &= equal
            if r == f.warmup or at_tenth:
                gc.collect()
                f.rss[r], f.pyramids[r], f.traced[r] = rss(), pyramid_bytes(state), tracemalloc.get_traced_memory()[0]
                check = f"{cells}, {equal}, {written}" if at_tenth else "(warm-up)"
                traced = f" {f.traced[r] / MB:9.1f}" if args.tracemalloc else ""
                say(f"{r:7,} {100 * r / args.redraws:4.0f}% {f.rss[r] / MB:7.1f} "
                    f"{(f.rss[r] - f.rss[f.warmup]) / MB:+11.2f} {f.pyramids[r] / MB:11.2f} {caches_filled():>16}"
                    f"{traced} {time.perf_counter() - began:9.0f}  {check}")
        f.seconds = time.perf_counter() - began
        f.batches, f.accuracy_points, f.markers = run.iteration, len(state.accuracy), len(state.markers)
    return f


def report(args, f: Figures) -> bool:
    """The summary and the verdict; whether issue 15's goal is met."""
    end, tenth, half = args.redraws, f.tenth, 5 * f.tenth
    growth = (f.rss[end] - f.rss[tenth]) / MB
    data = (f.pyramids[end] - f.pyramids[tenth]) / MB
    rest = growth - data
    print(f"\n{args.redraws:,} redraws in {f.seconds:.0f} s ({1000 * f.seconds / args.redraws:.0f} ms each, checks "
          f"included); {f.batches:,} batches, {f.accuracy_points} accuracy points kept, {f.markers} markers")
    for name in f.costs:
        print(f"  {name}: frame cost {ms(f.costs[name])}; redraw() (frame, diff, refresh) {ms(f.spent[name])}")
    print(f"  a whole step (the events, both plots' redraw, the screen update): {ms(f.steps)}")
    print(f"  RSS: {f.rss[f.warmup] / MB:.1f} MB after the warm-up (redraw {f.warmup:,}), {f.rss[tenth] / MB:.1f} MB "
          f"at 10% (redraw {tenth:,}), {f.rss[end] / MB:.1f} MB at the end: {growth:+.2f} MB from 10% to 100%, "
          f"of which the pyramids {data:+.2f} MB, the rest {rest:+.2f} MB")
    if half in f.rss and half > tenth:
        first = (f.rss[half] - f.rss[tenth] - f.pyramids[half] + f.pyramids[tenth]) / MB
        second = (f.rss[end] - f.rss[half] - f.pyramids[end] + f.pyramids[half]) / MB
        print(f"  the rest per redraw: {1000 * first / (half - tenth):.2f} KB from 10% to 50%, "
              f"{1000 * second / (end - half):.2f} KB from 50% to 100% "
              "(a leak keeps its rate; filling caches slow down)")
    if args.tracemalloc:
        print(f"  traced Python memory: {(f.traced[end] - f.traced[tenth]) / MB:+.2f} MB from 10% to 100%")
    print(f"  unchanged data: {f.checks} checks of two redraws of both plots: {f.check_cells} cells sent, "
          f"frames {'all equal' if f.all_equal else 'NOT all equal'}, {f.check_bytes} bytes written")
    flat, still = rest <= GROWTH_BOUND_MB, f.check_cells == 0 and f.all_equal
    print(f"verdict: memory {'flat' if flat else 'NOT flat'} (RSS growth from 10% to 100% beyond the pyramids' "
          f"{rest:+.2f} MB, bound {GROWTH_BOUND_MB:g} MB); "
          f"unchanged data {'sends nothing' if still else 'SENDS CELLS'} "
          f"({f.check_cells} cells, frames {'equal' if f.all_equal else 'differ'}): "
          f"{'meets' if flat and still else 'misses'} issue 15")
    return flat and still


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redraws", type=int, default=7200, help="redraws of both plots (default: %(default)s, "
                        "two hours at one a second)")
    parser.add_argument("--batches", type=int, default=1200, help="batches between redraws (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=60, help="redraws before the start figure (default: %(default)s)")
    parser.add_argument("--check-every", type=int, default=100,
                        help="redraws between unchanged-data checks (default: %(default)s)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's memory (about 2x slower)")
    args = parser.parse_args()
    args.warmup = min(args.warmup, args.redraws)
    if args.tracemalloc:
        tracemalloc.start()
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}; Python "
          f"{platform.python_version()}, textual {version('textual')}, plotext {version('plotext')}, "
          f"textual-plotext {version('textual-plotext')}")
    print(f"app at {SIZE[0]}x{SIZE[1]}, Monitor tab; {args.redraws:,} redraws of both plots, {args.batches} batches "
          f"before each (an epoch every {TRAIN_SIZE // BATCH} batches), an unchanged-data check every "
          f"{args.check_every} redraws and at each 10%; caches filled: entries of rich's cached_cell_len (of 4096), "
          f"Textual's Region.intersection (of 4096) and Region.translate (of 1024)")
    return 0 if report(args, asyncio.run(soak(args))) else 1


if __name__ == "__main__":
    sys.exit(main())
