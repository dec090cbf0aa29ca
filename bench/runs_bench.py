"""Time the run browser's listing of many runs: from their summary files against reading every log.

Makes RUNS synthetic run folders in a temp folder, as a training process leaves them (config, event log
in the logged format, summary made from the same events), LARGE of them LARGE_ITERS iterations long and
the others SMALL_ITERS; then, in alternating rounds, lists them (engine.run_index.list_runs) and reads
every log (what a listing cost before summaries). Also: one look for news (the browser's poll), the
curves of the longest run, and the first listing of runs without summaries (their logs read, the
summaries written). Goal: listing 500 runs in <= 0.3 s.
Run: python bench/runs_bench.py [--runs 500 --large 3 --large-iters 200000 --small-iters 300 --rounds 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import events as ev  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.run_index import STAMP, list_runs, load_curves, refresh  # noqa: E402
from engine.run_summary import SUMMARY_FILE, SummaryBuilder, summarise_log  # noqa: E402
from engine.runs import CONFIG_FILE, EVENTS_FILE, event_record  # noqa: E402

ITERS_PER_EPOCH = 600  # 60k digits in batches of 100


def run_files(iterations: int) -> tuple[bytes, bytes]:
    """(events.jsonl, summary.jsonl) of a finished run of `iterations` batches."""
    config = TrainConfig(iters=iterations)
    events = [ev.Started(config, "784-100-10", "mnist", 60000, 10000)]
    for i in range(1, iterations + 1):
        events.append(ev.BatchDone(i, i / ITERS_PER_EPOCH, 2.3 / (1 + i / 500), 0.1, 250000.0))
        if i % ITERS_PER_EPOCH == 0 or i == iterations:
            events.append(ev.EpochDone(i // ITERS_PER_EPOCH, i, 0.9 - 0.5 / (1 + i / 1000), 0.88 - 0.5 / (1 + i / 1000)))
    events.append(ev.Finished(iterations, iterations / 2000))
    log = "".join(json.dumps(event_record(e)) + "\n" for e in events).encode()
    builder = SummaryBuilder()
    for e in events:
        builder.fold(e)
    return log, builder.encode(len(log))


def make_runs(root: Path, runs: int, large: int, large_iters: int, small_iters: int) -> list[Path]:
    small, big = run_files(small_iters), run_files(large_iters)
    config = json.dumps(dataclasses.asdict(TrainConfig())).encode()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    every = runs // large if large else runs + 1  # the large runs spread among the others
    folders = []
    for n in range(runs):
        folder = root / f"{(start + timedelta(minutes=n)).strftime(STAMP)}-mnist-784-100-10"
        (folder / "checkpoints").mkdir(parents=True)
        log, summary = big if n % every == 0 and n // every < large else small
        (folder / CONFIG_FILE).write_bytes(config)  # a bench's fixture: plain writes
        (folder / EVENTS_FILE).write_bytes(log)
        (folder / SUMMARY_FILE).write_bytes(summary)
        folders.append(folder)
    return folders


def timed(action) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--large-iters", type=int, default=200_000)
    parser.add_argument("--small-iters", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = make_runs(root, args.runs, args.large, args.large_iters, args.small_iters)
        log_mb = sum((f / EVENTS_FILE).stat().st_size for f in folders) / 1e6
        print(f"{args.runs} runs ({args.large} of {args.large_iters:,} iterations, the others {args.small_iters:,}): "
              f"{log_mb:,.0f} MB of logs")
        listing, reading = [], []
        for _ in range(args.rounds):  # alternating: this VM's speed drifts within seconds
            listing.append(timed(lambda: list_runs(root)))
            reading.append(timed(lambda: [summarise_log(f / EVENTS_FILE) for f in folders]))
        runs = list_runs(root)
        assert len(runs) == args.runs and all(r.state == "finished" and not r.summary_problem for r in runs)
        longest = max(runs, key=lambda r: r.iteration)
        looks = [timed(lambda: refresh(runs)) for _ in range(5)]
        curves = [timed(lambda: load_curves(longest)) for _ in range(5)]
        for f in folders:
            (f / SUMMARY_FILE).unlink()
        first = timed(lambda: list_runs(root))
        rewritten = sum((f / SUMMARY_FILE).exists() for f in folders)
        ratios = [r / s for s, r in zip(listing, reading)]
        print(f"list {args.runs} runs from summaries: {min(listing):.3f}-{max(listing):.3f} s "
              f"(median {statistics.median(listing):.3f} s; goal <= 0.3 s)")
        print(f"read every log instead:          {min(reading):.2f}-{max(reading):.2f} s; "
              f"{min(ratios):.0f}-{max(ratios):.0f}x slower (per round)")
        print(f"a look for news (poll), all runs: {min(looks) * 1e3:.1f}-{max(looks) * 1e3:.1f} ms")
        print(f"curves of the {longest.iteration:,}-iteration run: {min(curves) * 1e3:.1f}-{max(curves) * 1e3:.1f} ms")
        print(f"first listing without summaries: {first:.2f} s (logs read; {rewritten} summaries written)")


if __name__ == "__main__":
    main()
