"""Benchmark: does the monitor slow training down, and how fast does it start?

Run from anywhere:  python bench/ui_bench.py  [--iters N] [--rounds N] [--starts N] [--parts 1,2,3]

One run prints (--parts picks some):

1. Training throughput (iterations/s) of the real engine.trainer.Trainer,
   784-50-10, SGD lr 0.1, batch 100, --iters iterations (default 3,000), with
   the default preview_count (500 test digits sent every evaluation) and no
   automatic gradient checks, in two modes:
     - headless: the Trainer alone, its sink appending to a deque that nobody
       reads;
     - UI: the same Trainer built by the app's LocalSession (trainer_factory), in
       BackpropApp under App.run_test (headless driver, 120x40, monitor tab
       shown), started with the space key (App.simulate_key). The app drains
       the queue, folds the events into its state and redraws the status
       line, plots and tables as it does in a terminal (the headless driver
       only discards the bytes).
   In both modes the time is measured by the sink itself, on the worker
   thread: from the Started event to the Finished event, i.e. every batch plus
   the end-of-epoch evaluations (8,000 training digits = 80 batches per
   epoch; each evaluation scores the 8k train and 2k test digits on a copy of
   the parameters in the scorer thread, engine/scoring.py, while the worker
   trains on, and the worker sends its events, preview digits included,
   between batches). Dataset loading and app start-up are not in it.
   --rounds (default 7) rounds alternate (headless, UI, headless, UI, ...)
   after one unmeasured headless warm-up, because this VM's speed drifts
   (and other processes may share its 2 cores). Printed: the median
   it/s of each mode, the median of the per-round ratios UI / headless (each
   UI round against the headless round just before it) and its range. Goal:
   UI >= 90% of headless. The same ratio in iterations per second of the worker thread's CPU time
   (thread_time on the worker, from Started to Finished) is printed too: the VM's drift and steal
   time, which move wall-clock rates by tens of percent between rounds, mostly cancel in it; it
   shows what the monitor costs the training thread itself (cache and memory traffic, the GIL's
   hand-overs), not the time the worker waits for the GIL. Also printed: the UI thread's CPU time (thread_time
   on the event loop's thread) over the wall time from the space key to the
   app showing FINISHED, i.e. the share of one core the monitor itself used
   while training ran; it drifts less than the rates, and with 2 cores and
   the GIL it is what the trainer competes with.
   BLAS threads are as in `python -m tui`: engine/__init__.py sets
   OPENBLAS_NUM_THREADS etc. to 1 unless the user set them, so this script
   imports engine before numpy (the header prints the value in force).

2. Time to first frame of `python -m tui --data-dir FOLDER`: the command is
   spawned (this interpreter, cwd = repo root) on a pseudo-terminal of 120x40
   (TIOCSWINSZ on the pty before the spawn, the child's controlling terminal)
   with TERM=xterm-256color; everything it writes is read as it comes. From
   the spawn, three times are taken:
     - alt screen: the first byte of ESC[?1049h (Textual entering the
       alternate screen);
     - first frame: the screen output, with escape sequences stripped, holds
       both the tab bar ("1 Monitor") and the footer ("palette"): a whole
       frame has been drawn;
     - ready: the status line says IDLE (the dataset has loaded in the
       background and space would start training).
   Then the child is ended (SIGTERM, SIGKILL after 3 s if needed). --starts
   spawns (default 5) are made; the first is printed on its own (cold
   imports), the median is over all of them. Goal: first frame <= 1.0 s.

3. What the insight events cost: headless throughput (as in 1) with
   insight_every=0 against the default (layer statistics and weight images
   every 200 iterations and at each evaluation, i.e. every 80 batches here,
   more often than on full MNIST). Test-set predictions are sent in both
   (the scorer thread makes them from its own forward pass over the test set,
   on its copy of the parameters; the layer statistics and weight images are
   made on the worker thread, from the latest batch). --rounds pairs alternate their
   order (off/on, on/off, ...) after one unmeasured warm-up. Printed: each
   round, the medians, the median of the per-pair ratios default / off and
   its range. Goal: default >= 95% of off. Because this VM's speed swings by
   tens of percent between rounds, also printed: the time spent making the
   layer statistics and weight images, timed around the trainer's own
   method in each default round (InsightTimer), as a share of that round.

Data: the 8,000 first / 2,000 last real MNIST test digits (../shared/data/mnist
relative to the repo root, or /work/shared/data/mnist), written as the four
standard IDX files into a temporary folder; random uint8 images of the same
shape when the shared data is absent (the printout says which). The shared
files are only read.
"""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import warnings
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# engine/__init__ sets the BLAS thread variables (unless the user set them) and must run before
# numpy is imported, as it does in `python -m tui`; otherwise the bench would train with other BLAS threads.
USER_BLAS = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
             if k in os.environ}
from digits import CSI, t10k_digits  # noqa: E402  (bench/digits.py, beside this script)

import engine  # noqa: E402,F401  (before numpy)
from engine import events as ev  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.idx import write_idx  # noqa: E402
from engine.loader import UnverifiedDataWarning, load_dataset  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

TRAIN_SIZE, TEST_SIZE = 8000, 2000
SIZE = (120, 40)
ALT_SCREEN = b"\x1b[?1049h"


# ---- data -----------------------------------------------------------------------------

def build_folder(folder: Path) -> str:
    """Write the four standard IDX files into `folder`; returns a description of the data."""
    x, t, source = t10k_digits()
    x, t = x[: TRAIN_SIZE + TEST_SIZE], t[: TRAIN_SIZE + TEST_SIZE]
    what = f"{source}: first {TRAIN_SIZE:,} train, last {TEST_SIZE:,} test"
    write_idx(folder / "train-images-idx3-ubyte.gz", x[:TRAIN_SIZE])
    write_idx(folder / "train-labels-idx1-ubyte.gz", t[:TRAIN_SIZE])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x[TRAIN_SIZE:])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", t[TRAIN_SIZE:])
    return what


# ---- throughput ------------------------------------------------------------------------

class Clock:
    """Wraps a sink: notes the wall time and the worker thread's CPU time at Started and Finished, then forwards.

    The sink runs on the worker thread, so thread_time() there is the training's own CPU time.
    """

    def __init__(self, sink):
        self.sink = sink
        self.started = self.finished = None
        self.cpu_started = self.cpu_finished = 0.0
        self.iterations = 0

    def __call__(self, event) -> None:
        if isinstance(event, ev.Started):
            self.started, self.cpu_started = time.perf_counter(), time.thread_time()
        elif isinstance(event, ev.Finished):
            self.finished, self.cpu_finished = time.perf_counter(), time.thread_time()
            self.iterations = event.iteration
        self.sink(event)

    def cpu_rate(self) -> float:
        """Iterations per second of the worker's CPU time: the VM's drift and steal mostly cancel."""
        return self.iterations / (self.cpu_finished - self.cpu_started)

    def seconds(self) -> float:
        if self.started is None or self.finished is None:
            raise RuntimeError("the trainer did not finish")
        return self.finished - self.started

    def rate(self) -> float:
        return self.iterations / self.seconds()


class InsightTimer(Trainer):
    """The real Trainer, also timing the making of its layer statistics and weight images."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.insight_seconds = 0.0
        self.insight_made = 0

    def _insight_events(self):
        before, began = self._insight, time.perf_counter()
        made = super()._insight_events()
        self.insight_seconds += time.perf_counter() - began
        self.insight_made += made is not before  # a new pair, not the one kept for this iteration
        return made


def headless_round(dataset, config: TrainConfig, trainer_class=Trainer) -> tuple[Clock, Trainer]:
    events: deque = deque()
    clock = Clock(events.append)
    trainer = trainer_class(dataset, config, clock)
    trainer.start()
    trainer.join()
    if trainer.state != "finished":
        raise RuntimeError(f"headless trainer ended {trainer.state}")
    return clock, trainer


async def _ui_round(folder: Path, config: TrainConfig, timeout: float) -> tuple[Clock, float]:
    from tui.app import BackpropApp
    from tui.session import LocalSession

    clocks: list[Clock] = []

    def factory(dataset, cfg, sink):
        clocks.append(Clock(sink))
        return Trainer(dataset, cfg, clocks[-1])

    app = BackpropApp(LocalSession(config, str(folder), trainer_factory=factory))
    async with app.run_test(size=SIZE) as pilot:
        began = time.monotonic()
        while not (app.session.trainer is not None and app.monitor.state == "idle"):
            if time.monotonic() - began > timeout:
                raise TimeoutError("the app did not load the dataset")
            await pilot.pause(0.05)
        # The event loop runs on this thread, so thread_time() here is the UI thread's CPU time.
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        app.simulate_key("space")  # as the key would; Pilot.press would wait for an idle CPU first
        while app.monitor.state not in ("finished", "failed", "diverged"):
            if time.monotonic() - began > timeout:
                raise TimeoutError("training under the app did not finish")
            await asyncio.sleep(0.05)  # not pilot.pause(): that also forces a screen update each time
        busy = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
        if app.monitor.state != "finished":
            raise RuntimeError(f"training under the app ended {app.monitor.state}: {app.monitor.message}")
        rate = clocks[-1]
        app.session.stop()
        app.exit()
    return rate, busy


def ui_round(folder: Path, config: TrainConfig) -> tuple[Clock, float]:
    """(the worker's clock, share of wall time the UI thread spent on the CPU while training ran)."""
    return asyncio.run(_ui_round(folder, config, timeout=600))


# ---- first frame -------------------------------------------------------------------------

def first_frame(folder: Path, timeout: float = 30.0) -> dict[str, float | None]:
    """Seconds from spawning `python -m tui` on a 120x40 pty to the alt screen, first frame and IDLE."""
    master, slave = pty.openpty()
    columns, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
    env.pop("TEXTUAL", None)

    def controlling_tty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "--data-dir", str(folder)], cwd=ROOT, env=env,
        stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty, close_fds=True,
    )
    os.close(slave)
    raw = bytearray()
    times: dict[str, float | None] = {"alt screen": None, "first frame": None, "ready": None}
    try:
        while time.perf_counter() - began < timeout and times["ready"] is None:
            readable, _, _ = select.select([master], [], [], 0.05)
            if not readable:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            now = time.perf_counter() - began
            raw += chunk
            if times["alt screen"] is None and ALT_SCREEN in raw:
                times["alt screen"] = now
            if times["alt screen"] is not None:
                screen = CSI.sub("", raw[raw.find(ALT_SCREEN):].decode("utf-8", "replace"))
                if times["first frame"] is None and "1 Monitor" in screen and "Quit" in screen:
                    times["first frame"] = now
                if times["first frame"] is not None and "IDLE" in screen:
                    times["ready"] = now
    finally:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Read what is left so the pty can close, then close our end.
        while select.select([master], [], [], 0)[0]:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:
                break
        os.close(master)
    if times["first frame"] is None:
        tail = CSI.sub("", raw.decode("utf-8", "replace"))[-400:]
        print(f"    no full frame within {timeout:.0f} s; exit code {proc.returncode}; output tail: {tail!r}")
    return times


# ---- main ----------------------------------------------------------------------------------

def fmt(values: list[float | None]) -> str:
    return ", ".join("-" if v is None else f"{v:.2f}" for v in values)


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ui_throughput(dataset, folder: Path, config: TrainConfig, rounds: int) -> None:
    print(f"\n1. training throughput, {rounds} alternating rounds (+1 headless warm-up)")
    headless_round(dataset, config)  # warm-up: caches, BLAS threads, page faults
    headless, ui, busy, cpu_ratios = [], [], [], []
    for r in range(rounds):
        alone = headless_round(dataset, config)[0]
        monitored, cpu = ui_round(folder, config)
        headless.append(alone.rate())
        ui.append(monitored.rate())
        busy.append(cpu)
        cpu_ratios.append(monitored.cpu_rate() / alone.cpu_rate())
        print(f"  round {r + 1}: headless {headless[-1]:7.0f} it/s   UI {ui[-1]:7.0f} it/s   "
              f"ratio {ui[-1] / headless[-1]:6.1%}   by worker CPU time {cpu_ratios[-1]:6.1%}   "
              f"UI thread on CPU {cpu:.0%} of the time", flush=True)
    ratios = [u / h for u, h in zip(ui, headless)]
    h_med, u_med = statistics.median(headless), statistics.median(ui)
    print(f"  headless (Trainer + deque sink): median {h_med:.0f} it/s")
    print(f"  UI (BackpropApp, run_test 120x40): median {u_med:.0f} it/s")
    print(f"  UI / headless: median of per-round ratios {statistics.median(ratios):.1%} "
          f"(range {min(ratios):.1%} to {max(ratios):.1%}); ratio of medians {u_med / h_med:.1%}; goal >= 90%")
    print(f"  UI / headless in iterations per second of the worker thread's CPU time (drift cancels): median "
          f"{statistics.median(cpu_ratios):.1%} (range {min(cpu_ratios):.1%} to {max(cpu_ratios):.1%}); goal >= 90%")
    print(f"  UI thread CPU while training: median {statistics.median(busy):.0%} of one core "
          f"(range {min(busy):.0%} to {max(busy):.0%})")


def startup(folder: Path, starts: int) -> None:
    print(f"\n2. python -m tui --data-dir FOLDER on a 120x40 pty, TERM=xterm-256color, {starts} starts")
    runs = [first_frame(folder) for _ in range(starts)]
    for key in ("alt screen", "first frame", "ready"):
        values = [run[key] for run in runs]
        med = median(values)
        print(f"  {key:>11}: first start {fmt(values[:1])} s, median {fmt([med])} s   (all: {fmt(values)})")
    med = median([run["first frame"] for run in runs])
    verdict = "no frame" if med is None else ("meets" if med <= 1.0 else "misses")
    print(f"  first frame median {fmt([med])} s: {verdict} the goal of <= 1.0 s")


def insight_cost(dataset, config: TrainConfig, rounds: int) -> None:
    on = config.with_changes(insight_every=TrainConfig().insight_every)
    off = config.with_changes(insight_every=0)
    print(f"\n3. insight events, headless: insight_every=0 against {on.insight_every} (the default), "
          f"{rounds} pairs in alternating order (+1 warm-up)")
    headless_round(dataset, on)  # warm-up
    rates: dict[str, list[float]] = {"off": [], "on": []}
    shares, made, per_event = [], [], []
    for r in range(rounds):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for mode in order:
            clock, trainer = headless_round(dataset, off if mode == "off" else on, InsightTimer)
            rates[mode].append(clock.rate())
            if mode == "on":
                shares.append(trainer.insight_seconds / clock.seconds())
                made.append(trainer.insight_made)
                per_event.append(trainer.insight_seconds / trainer.insight_made)
        print(f"  round {r + 1} ({order[0]} first): off {rates['off'][-1]:7.0f} it/s   "
              f"default {rates['on'][-1]:7.0f} it/s   ratio {rates['on'][-1] / rates['off'][-1]:6.1%}   "
              f"making the insight events: {shares[-1]:.1%} of the default round "
              f"({made[-1]} at {per_event[-1] * 1e3:.2f} ms)", flush=True)
    ratios = [a / b for a, b in zip(rates["on"], rates["off"])]
    off_med, on_med = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"  insight_every=0: median {off_med:.0f} it/s; default: median {on_med:.0f} it/s")
    print(f"  default / off: median of per-pair ratios {statistics.median(ratios):.1%} "
          f"(range {min(ratios):.1%} to {max(ratios):.1%}); ratio of medians {on_med / off_med:.1%}; goal >= 95%")
    print(f"  time making layer stats and weight images, timed inside the default rounds: median "
          f"{statistics.median(shares):.1%} of the round (range {min(shares):.1%} to {max(shares):.1%}), "
          f"{statistics.median(per_event) * 1e3:.2f} ms each; the same-round share drifts less than the A/B ratio")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=3000, help="iterations per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each mode (default: %(default)s)")
    parser.add_argument("--starts", type=int, default=5, help="spawns of python -m tui (default: %(default)s)")
    parser.add_argument("--parts", default="1,2,3", help="which measurements to make (default: %(default)s)")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    warnings.filterwarnings("ignore", category=UnverifiedDataWarning)  # our split matches no published file

    with tempfile.TemporaryDirectory(prefix="backprop-ui-bench-") as tmp:
        folder = Path(tmp)
        what = build_folder(folder)
        dataset = load_dataset("mnist", folder)
        config = TrainConfig(iters=args.iters, batch_size=100)
        print(f"data: {what}")
        print(f"net 784-{config.hidden_sizes[0]}-10, {config.optimizer} lr {config.lr}, batch {config.batch_size}, "
              f"{args.iters:,} iterations per round, preview {config.preview_count} digits, "
              f"{os.cpu_count()} CPUs")
        print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} "
              f"({'set by the user' if 'OPENBLAS_NUM_THREADS' in USER_BLAS else 'set by engine/__init__.py'}, "
              "as in python -m tui)")
        if 1 in parts:
            ui_throughput(dataset, folder, config, args.rounds)
        if 2 in parts:
            startup(folder, args.starts)
        if 3 in parts:
            insight_cost(dataset, config, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
