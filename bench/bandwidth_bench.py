"""Benchmark: how many bytes does the monitor write to its terminal while training runs?

Run from anywhere:  python bench/bandwidth_bench.py  [--seconds 60] [--size 120x40] [--modes default,low]
                                                     [--term xterm-256color] [--extra=--ascii]

For each mode, `python -m tui` (this interpreter, cwd = repo root) is spawned on a
pseudo-terminal of --size (TIOCSWINSZ before the spawn; it is the child's
controlling terminal) with TERM=--term and COLORTERM unset, on a data folder
shaped like MNIST (below), training with the app's default settings except
--iters 1,000,000 so that it trains for the whole measurement. Everything the
child writes is read by a reader thread as it comes and counted. Once the
status line says IDLE (the data has loaded) the space key is sent and the clock
starts; bytes are counted for --seconds (default 60); then the child is ended
(SIGTERM: it checkpoints and exits).

Modes:
  default:  python -m tui             goal <= 20 KB/s
  low:      python -m tui --low-bandwidth   goal <= 5 KB/s

Printed per mode: total bytes over the measurement, the average KB/s
(1 KB = 1000 bytes), the median and maximum bytes in any one second, the
bytes of the start-up (spawn to IDLE: the first full frame, not part of the
average), and the iterations trained (from the status line) to show that
training ran throughout.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from digits import CSI, t10k_digits  # noqa: E402  (bench/digits.py, beside this script)

from engine.idx import write_idx  # noqa: E402

MODES = {"default": ([], 20.0), "low": (["--low-bandwidth"], 5.0)}


def build_folder(folder: Path) -> str:
    x, t, what = t10k_digits()
    x_train, t_train = np.tile(x[:8000], (8, 1, 1))[:60_000], np.tile(t[:8000], 8)[:60_000]
    x_test, t_test = np.tile(x[8000:], (5, 1, 1)), np.tile(t[8000:], 5)
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", t_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", t_test)
    return f"{what}: first 8,000 tiled to 60,000 train, last 2,000 tiled to 10,000 test"


class PtyApp:
    """`python -m tui ARGS` on a pseudo-terminal; a reader thread records (time, bytes) as they come."""

    def __init__(self, args: list[str], size: tuple[int, int], term: str):
        columns, rows = size
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

    def text(self, since: float = 0.0) -> str:
        with self.lock:
            raw = b"".join(c for t, c in self.chunks if t >= since)
        return CSI.sub("", raw.decode("utf-8", "replace"))

    def wait_for(self, needle: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if needle in self.text():
                return time.perf_counter()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no {needle!r} within {timeout:.0f} s; exit {self.proc.poll()}; "
                           f"tail {self.text()[-300:]!r}")

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


def measure(folder: Path, runs: Path, extra: list[str], size, term: str, seconds: float) -> dict:
    app = PtyApp(["--data-dir", str(folder), "--runs-dir", str(runs), "--iters", "1000000", *extra], size, term)
    try:
        ready = app.wait_for("IDLE", 60)
        with app.lock:
            startup = sum(len(c) for _, c in app.chunks)
        start = time.perf_counter()
        app.send(b" ")
        time.sleep(seconds)
        end = time.perf_counter()
        with app.lock:
            window = [(t, c) for t, c in app.chunks if start <= t < end]
        shown = re.findall(r"iter ([\d,]+)/", app.text(since=end - 2))
    finally:
        code = app.stop()
    total = sum(len(c) for _, c in window)
    per_second = [0] * int(seconds)
    for t, c in window:
        per_second[min(int(t - start), len(per_second) - 1)] += len(c)
    return {"total": total, "rate": total / seconds / 1000, "median": statistics.median(per_second),
            "max": max(per_second), "startup": startup, "ready": ready - app.began,
            "iters": shown[-1] if shown else "?", "exit": code}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement per mode (default: %(default)s)")
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
        print(f"terminal {size[0]}x{size[1]}, TERM={args.term}, COLORTERM unset; {args.seconds:.0f} s of training "
              f"per mode from the space key; {os.cpu_count()} CPUs")
        for mode in args.modes.split(","):
            flags, goal = MODES[mode]
            flags = flags + args.extra.split()
            r = measure(folder, Path(tmp) / f"runs-{mode}", flags, size, args.term, args.seconds)
            verdict = "meets" if r["rate"] <= goal else "misses"
            print(f"  {mode:>7} (python -m tui {' '.join(flags)}): {r['total']:,} bytes = {r['rate']:.2f} KB/s "
                  f"average ({verdict} the goal of <= {goal:g} KB/s); per second median {r['median']:,} B, "
                  f"max {r['max']:,} B; start-up {r['startup']:,} B to IDLE at {r['ready']:.1f} s; "
                  f"iteration {r['iters']} at the end; exit status {r['exit']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
