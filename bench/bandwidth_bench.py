"""Benchmark: how many bytes does the monitor write to its terminal while training runs, and where do they go?

Run from anywhere:  python bench/bandwidth_bench.py  [--seconds 60] [--warmup 10] [--iters 1000000]
                        [--size 120x40] [--modes default,low] [--term xterm-256color] [--extra=--ascii]

For each mode, `python -m tui` (this interpreter, cwd = repo root) is spawned on a
pseudo-terminal of --size (TIOCSWINSZ before the spawn; it is the child's
controlling terminal) with TERM=--term and COLORTERM unset, on a data folder
shaped like MNIST (below), training with the app's default settings except
--iters (default 1,000,000, so that it trains for the whole measurement) and
--runs-dir a fresh folder. The plots' x axis spans the planned iterations, so
--iters sets how far the curves move in a second: at 1,000,000 a braille dot of the
loss plot at 120x40 is about 7,700 iterations, several seconds of training; a smaller
--iters (e.g. 100,000) makes the curves move more, if training still lasts the
warm-up and the window (the printout warns when it ended early). Everything the
child writes is read by a reader thread as it comes and time-stamped. Once the
status line says IDLE (the data has loaded) the space key is sent; after
--warmup seconds (default 10: the first epochs, their first evaluations and plot
rescales) bytes are counted for --seconds (default 60); then the child is ended
(SIGTERM: it checkpoints and exits).

Modes and goals (issue 15):
  default:  python -m tui                   mean <= 2.0 KB/s, no second above 6,000 B
  low:      python -m tui --low-bandwidth   mean <= 0.7 KB/s, no second above 6,000 B

Where the bytes go: Textual positions every write with a cursor move (CSI row;col H),
so each byte is put on the screen row of the move before it (a move with
nothing after it, the cursor parked at the end of a frame, and what precedes any
move count as "other"). Row 1 is the status line; the plot area is the rows from
the plots' titles (the row above the first frame's top) to their x labels (the row
below the last frame's bottom), found on the screen as the window starts, rebuilt
from the bytes so far (at IDLE the still empty frames are taller). Output comes
in bursts: chunks with no gap longer than 50 ms between them. A status update is
a burst that prints on row 1, a plot update one that prints on a plot row (one
burst may be both).

Printed per mode: the start-up bytes (spawn to IDLE: the first full frame, not in
the figures below); over the window: total bytes, mean KB/s (1 KB = 1000 bytes)
and the median and maximum bytes in one second, the mean and the maximum each
against its goal (meets / MISSES); the status line's
bytes/s and updates/s, the share of seconds with at least two status updates and
the longest time between two; the plot area's bytes/s, updates/s, bytes per
update, the share of seconds with a plot update and the longest time between two;
the other rows' bytes/s; the iterations trained, read after the stop from the
run's summary.jsonl (its first line's "iteration", engine/run_summary.py), over the
time from the space key to SIGTERM, to show that training ran at full speed; and the
machine's load average (other processes slow training and the plots: the app spaces
plot redraws by their cost, tui/pacing.py).

Data: the 8,000 first / 2,000 last real MNIST test digits (../shared/data/mnist
relative to the repo root, or /work/shared/data/mnist), tiled to 60,000
training and 10,000 test images so that an epoch (and its evaluation, its
accuracy points and fresh preview digits) comes as often as on real MNIST;
random uint8 images of the same shape when the shared data is absent (the
printout says which). The shared files are only read.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from digits import CSI, t10k_digits  # noqa: E402  (bench/digits.py, beside this script)

from engine.idx import write_idx  # noqa: E402
from engine.run_summary import read_row  # noqa: E402

MODES = {"default": ([], 2.0), "low": (["--low-bandwidth"], 0.7)}  # flags, goal for the mean in KB/s
MAX_SECOND = 6000  # bytes: the goal for the busiest second, in both modes
BURST_GAP = 0.05  # seconds without output that end a burst
STATUS_ROW = 1
MOVE = re.compile(rb"\x1b\[(\d*)(?:;(\d*))?H")  # cursor position: CSI row;col H (1-based; empty = 1)
FRAME_EDGE = re.compile(r"[┌└+][─┬┴-]{3}")  # a plot frame's top or bottom row (box drawing or --ascii)


def build_folder(folder: Path) -> str:
    x, t, what = t10k_digits()
    x_train, t_train = np.tile(x[:8000], (8, 1, 1))[:60_000], np.tile(t[:8000], 8)[:60_000]
    x_test, t_test = np.tile(x[8000:], (5, 1, 1)), np.tile(t[8000:], 5)
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", t_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", t_test)
    return f"{what}: first 8,000 tiled to 60,000 train, last 2,000 tiled to 10,000 test"


@dataclass(frozen=True)
class Piece:
    """A cursor move and the bytes after it up to the next move: what one write put on one row."""

    offset: int  # in the output stream
    size: int  # bytes, the move included
    row: int | None  # 1-based; None: output before any move, or a move with nothing after it (a parked cursor)
    column: int
    text: str  # what it prints: escape sequences, CR and LF left out


def pieces(stream: bytes) -> list[Piece]:
    moves = list(MOVE.finditer(stream))
    first = moves[0].start() if moves else len(stream)
    found = [Piece(0, first, None, 1, "")] if first else []
    for move, after in zip(moves, moves[1:] + [None]):
        end = after.start() if after else len(stream)
        body = stream[move.end():end]
        text = CSI.sub("", body.decode("utf-8", "replace")).replace("\r", "").replace("\n", "")
        found.append(Piece(move.start(), end - move.start(), int(move.group(1) or 1) if body else None,
                           int(move.group(2) or 1), text))
    return found


def screen(stream: bytes, size: tuple[int, int]) -> list[str]:
    """The screen's rows after `stream` (one cell per character: the app draws nothing wider)."""
    columns, rows = size
    grid = [[" "] * columns for _ in range(rows)]
    for piece in pieces(stream):
        if piece.row is not None and 1 <= piece.row <= rows:
            for k, char in enumerate(piece.text[:max(columns - piece.column + 1, 0)]):
                grid[piece.row - 1][piece.column - 1 + k] = char
    return ["".join(line) for line in grid]


def plot_rows(lines: list[str]) -> range:
    """Rows (1-based) from the plots' titles to their x labels: around the frames' tops and bottoms."""
    edges = [y for y, line in enumerate(lines, 1) if FRAME_EDGE.search(line)]
    if not edges:
        raise RuntimeError("no plot frame on the screen:\n" + "\n".join(lines))
    return range(edges[0] - 1, edges[-1] + 2)


class PtyApp:
    """`python -m tui ARGS` on a pseudo-terminal; a reader thread records (time, bytes) as they come."""

    def __init__(self, args: list[str], size: tuple[int, int], term: str):
        columns, rows = self.size = size
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TEXTUAL")}
        env.update(TERM=term, COLUMNS=str(columns), LINES=str(rows))

        def controlling_tty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.began = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env, stdin=slave,
                                     stdout=slave, stderr=slave, preexec_fn=controlling_tty, close_fds=True)
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            with self.lock:
                self.chunks.append((time.perf_counter(), chunk))

    def screen(self) -> list[str]:
        with self.lock:
            stream = b"".join(c for _, c in self.chunks)
        return screen(stream, self.size)

    def wait_for_status(self, needle: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if needle in self.screen()[STATUS_ROW - 1]:
                return time.perf_counter()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no {needle!r} on the status line within {timeout:.0f} s; exit {self.proc.poll()}; "
                           f"screen:\n" + "\n".join(self.screen()))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(2)
        os.close(self.master)
        return self.proc.returncode


def longest_gap(times: list[float]) -> float:
    return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))


def window_figures(chunks: list[tuple[float, bytes]], start: float, seconds: int, plots: range) -> dict:
    """Where the bytes written in [start, start + seconds) went, and how often each part changed."""
    times = [t for t, _ in chunks]
    offsets = list(accumulate((len(c) for _, c in chunks), initial=0))
    first, last = bisect_right(times, start - 1e-9), bisect_right(times, start + seconds - 1e-9)
    burst_of, burst_times = {}, []  # chunk index -> burst number; each burst's first time
    for k in range(first, last):
        if not burst_times or times[k] - times[k - 1] > BURST_GAP:
            burst_times.append(times[k])
        burst_of[k] = len(burst_times) - 1
    stream = b"".join(c for _, c in chunks)
    per_second = [0] * seconds
    part_bytes = {"status": 0, "plots": 0, "other": 0}
    changed = {"status": set(), "plots": set()}  # bursts that printed there
    for piece in pieces(stream):
        k = bisect_right(offsets, piece.offset) - 1
        if not first <= k < last:
            continue
        part = "status" if piece.row == STATUS_ROW else "plots" if piece.row in plots else "other"
        part_bytes[part] += piece.size
        per_second[int(times[k] - start)] += piece.size
        if piece.text and part in changed:
            changed[part].add(burst_of[k])
    figures = {"total": sum(per_second), "median": statistics.median(per_second), "max": max(per_second),
               "other": part_bytes["other"] / seconds}
    for part in changed:
        at = sorted(burst_times[b] for b in changed[part])
        counts = [0] * seconds
        for t in at:
            counts[int(t - start)] += 1
        figures[part] = {"rate": part_bytes[part] / seconds, "updates": len(at), "per_second": counts,
                         "bytes": part_bytes[part], "gap": longest_gap(at)}
    return figures


def measure(folder: Path, runs: Path, extra: list[str], size, term: str, iters: int, warmup: float,
            seconds: int) -> dict:
    app = PtyApp(["--data-dir", str(folder), "--runs-dir", str(runs), "--iters", str(iters), *extra], size, term)
    try:
        ready = app.wait_for_status("IDLE", 60)
        with app.lock:
            startup = b"".join(c for _, c in app.chunks)
        space = time.perf_counter()
        app.send(b" ")
        time.sleep(warmup)
        start = time.perf_counter()
        plots = plot_rows(app.screen())  # the training layout: at IDLE the empty frames are taller
        time.sleep(seconds)
    finally:
        stopped = time.perf_counter()
        code = app.stop()
    with app.lock:
        chunks = list(app.chunks)
    [run] = [p for p in runs.iterdir() if p.is_dir()]
    iterations = read_row(run).iteration
    return {**window_figures(chunks, start, seconds, plots), "startup": len(startup), "ready": ready - app.began,
            "plot_rows": plots, "iterations": iterations, "trained": stopped - space, "exit": code,
            "load": os.getloadavg()[0]}


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(mode: str, flags: list[str], goal: float, r: dict, iters: int, warmup: float, seconds: int) -> None:
    rate = r["total"] / seconds / 1000
    status, plots = r["status"], r["plots"]
    twice = sum(n >= 2 for n in status["per_second"]) / seconds
    plotted = sum(n >= 1 for n in plots["per_second"]) / seconds
    per_plot = plots["bytes"] / plots["updates"] if plots["updates"] else float("nan")
    rows = r["plot_rows"]
    print(f"  {mode} (python -m tui {' '.join(['--iters', str(iters), *flags])}): start-up {r['startup']:,} B to IDLE at {r['ready']:.1f} s\n"
          f"    {seconds} s from {warmup:g} s after the space key: {r['total']:,} B = {rate:.2f} KB/s mean "
          f"({verdict(rate <= goal)} <= {goal:.1f} KB/s); per second median {r['median']:,.0f} B, max {r['max']:,} B "
          f"({verdict(r['max'] <= MAX_SECOND)} no second above {MAX_SECOND:,} B)\n"
          f"    status line (row {STATUS_ROW}): {status['rate'] / 1000:.2f} KB/s, "
          f"{status['updates'] / seconds:.2f} updates/s, seconds with >= 2 updates {twice:.0%}, "
          f"longest gap {status['gap']:.2f} s\n"
          f"    plots (rows {rows.start}-{rows.stop - 1}): {plots['rate'] / 1000:.2f} KB/s, "
          f"{plots['updates'] / seconds:.2f} updates/s, {per_plot:,.0f} B per update, "
          f"seconds with a plot update {plotted:.0%}, longest gap {plots['gap']:.2f} s\n"
          f"    other rows and parked cursor: {r['other'] / 1000:.2f} KB/s\n"
          f"    training: {r['iterations']:,} iterations in {r['trained']:.1f} s from the space key to SIGTERM "
          f"= {r['iterations'] / r['trained']:,.0f} it/s (run summary); exit status {r['exit']}; "
          f"load average {r['load']:.1f} (1 min, at the end)"
          + ("\n    WARNING: training ended before the window did" if r["iterations"] >= iters else ""), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="measured window per mode (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of training before the window (default: %(default)s)")
    parser.add_argument("--iters", type=int, default=1_000_000,
                        help="iterations to train: the plots' x span (default: %(default)s)")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS (default: %(default)s)")
    parser.add_argument("--modes", default="default,low", help="which modes (default: %(default)s)")
    parser.add_argument("--term", default="xterm-256color", help="TERM for the child (default: %(default)s)")
    parser.add_argument("--extra", default="", help="more flags for python -m tui, e.g. '--ascii'")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="backprop-bandwidth-") as tmp:
        folder = Path(tmp) / "data"
        folder.mkdir()
        print(f"data: {build_folder(folder)}")
        print(f"terminal {size[0]}x{size[1]}, TERM={args.term}, COLORTERM unset; per mode {args.seconds} s counted "
              f"after {args.warmup:g} s of training from the space key; bursts split at gaps > {BURST_GAP * 1000:.0f} "
              f"ms; {os.cpu_count()} CPUs")
        for mode in args.modes.split(","):
            flags, goal = MODES[mode]
            flags = flags + args.extra.split()
            r = measure(folder, Path(tmp) / f"runs-{mode}", flags, size, args.term, args.iters, args.warmup,
                        args.seconds)
            report(mode, flags, goal, r, args.iters, args.warmup, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
