"""How soon an event another process writes shows on the TensorBoard viewer's screen (python -m tui --view).

    python bench/view_latency.py [--samples 10] [--backlog 0]

The viewer runs headless (Textual's run_test) on a fresh folder; a writer subprocess appends one scalar
event at a time (a new value each, at a random moment), flushes it and says when; the bench reads the
screen every 10 ms until the tag's label shows that value. `--backlog N`: the file starts with N
events already in it (a long job joined late); the time to show them all is printed first. Prints each delay, the median and the max; the goal is
under a second.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import tfevents as tf  # noqa: E402
from tests.tui.harness import screen_text  # noqa: E402
from tui.view_app import ViewApp  # noqa: E402

WRITER = textwrap.dedent("""
    import random, sys, time
    from engine import tfevents as tf
    with open(sys.argv[1], "ab", buffering=0) as f:
        for line in sys.stdin:
            step = int(line)
            time.sleep(random.uniform(0, 0.5))
            f.write(tf.frame(tf.event(step, time.time(), [tf.scalar("value", step + 0.5)])))
            print(time.time(), flush=True)
""")


async def measure(samples: int, backlog: int) -> list[float]:
    folder = Path(tempfile.mkdtemp())
    path = folder / "events.out.tfevents.1.bench"
    path.write_bytes(b"".join(tf.frame(tf.event(i, 0.0, [tf.scalar("value", 0.25)])) for i in range(backlog)))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    delays = []
    app = ViewApp(folder)
    began = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        if backlog:
            while f"0.25 @ {backlog - 1:,}" not in screen_text(app):
                await pilot.pause(0.01)
            print(f"backlog of {backlog:,} events ({path.stat().st_size / 1e6:.1f} MB) shown after "
                  f"{time.monotonic() - began:.1f} s")
        for n in range(samples):
            step = backlog + 1000 + n
            writer.stdin.write(f"{step}\n")
            writer.stdin.flush()
            written = float(writer.stdout.readline())
            wanted = f"{step + 0.5:.4g} @ {step:,}"
            while wanted not in screen_text(app):
                await pilot.pause(0.01)
            delays.append(time.time() - written)
    writer.stdin.close()
    writer.wait()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=0)
    args = parser.parse_args()
    delays = asyncio.run(measure(args.samples, args.backlog))
    print("delays (s):", " ".join(f"{d:.2f}" for d in delays))
    print(f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s (goal: under 1 s)")


if __name__ == "__main__":
    main()
