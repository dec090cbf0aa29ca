"""A run log keeps consecutive batches as one Batches record: compact, checked like every record, and
read back as the batches it was made from; older logs (a BatchDone record per batch) still read."""
from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.export import export_run
from engine.records import MAX_BATCHES, MAX_COUNT, DamagedRecord, Skipped, decode, read_log
from engine.runs import (
    LogFollower,
    RecordsSkipped,
    RunLog,
    event_record,
    history,
    new_run_dir,
    read_events,
    truncate_log,
)
from tests.fakes import points, scripted_layer_stats
from tui.state import MonitorState

CONFIG = TrainConfig(hidden_sizes=(8,), batch_size=64)
TRAIN_SIZE = 1000  # 15 batches of 64 and one of 40 per epoch


def trainer_batches(count: int, seed: int = 0) -> list[ev.BatchDone]:
    """Batches 1 to `count` as the trainer numbers them: epoch = epochs done + the share of this epoch's shuffle used."""
    rng = np.random.default_rng(seed)
    losses = np.exp(-np.arange(count) / 300) * rng.uniform(0.5, 1.5, count) + 1e-3
    out, cursor, epochs = [], 0, 0
    for k in range(count):
        cursor = min(cursor + 64, TRAIN_SIZE)
        out.append(ev.BatchDone(k + 1, epochs + cursor / TRAIN_SIZE, float(losses[k]), 0.1, 5000.0 + k))
        if cursor == TRAIN_SIZE:
            epochs, cursor = epochs + 1, 0
    return out


def logged(run_dir, events) -> None:
    log = RunLog(run_dir)
    for event in events:
        log(event)
    log.close()


def as_float32(value: float) -> float:
    return float(np.float32(value))


@pytest.fixture
def run_dir(tmp_path):
    return new_run_dir(tmp_path, CONFIG, "16-8-10")


def a_run() -> list:
    """A run's events: epochs ending, an lr change, layer statistics among the batches, losses of 0, nan and inf."""
    batches = trainer_batches(100)
    batches[10:13] = [ev.BatchDone(b.iteration, b.epoch, special, b.lr, b.samples_per_s)
                      for b, special in zip(batches[10:13], (0.0, math.nan, math.inf))]
    events = [ev.Started(CONFIG, "16-8-10", "toy", TRAIN_SIZE, 100)]
    for b in batches[:60]:
        events.append(b)
        if b.iteration == 30:
            events.append(scripted_layer_stats([16, 8, 10], 30))
        if b.epoch == int(b.epoch):
            events.append(ev.EpochDone(int(b.epoch), b.iteration, 0.5, 0.5))
    events.append(ev.ParamChanged("lr", 0.1, 0.05, 60))
    return events + [dataclasses.replace(b, lr=0.05) for b in batches[60:]]


def test_batches_come_back_from_a_compact_log_as_they_went_in(run_dir):
    events = a_run()
    logged(run_dir, events)
    lines = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert "BatchDone" not in {r["event"] for r in lines} and sum(r["event"] == "Batches" for r in lines) >= 3
    sent = [e for e in events if isinstance(e, ev.BatchDone)]
    for records in (list(read_events(run_dir)),
                    [event_record(b) for e in LogFollower(run_dir).poll() for b in
                     (e.batch_events() if isinstance(e, ev.Batches) else [e])]):
        assert [r["event"] for r in records] == [type(e).__name__ for e in events]  # in order: blocks end at others
        got = [r for r in records if r["event"] == "BatchDone"]
        assert [r["iteration"] for r in got] == [b.iteration for b in sent]
        assert [r["lr"] for r in got] == [b.lr for b in sent]
        assert [r["loss"] for r in got] == [str(b.loss) if not math.isfinite(b.loss) else as_float32(b.loss)
                                            for b in sent]  # to float32 precision; nan and inf as the log has them
        assert [r["epoch"] for r in got] == pytest.approx([b.epoch for b in sent], abs=1e-9)


def test_a_monitor_fed_the_compact_log_shows_what_the_trainer_sent(run_dir):
    events = [ev.BatchDone(b.iteration, b.epoch, as_float32(b.loss), b.lr, b.samples_per_s)
              for b in trainer_batches(3000)]  # float32 losses, as the trainer's are
    logged(run_dir, events[:1000] + [ev.Evaluated(1000, 0.5, 0.5)] + events[1000:])
    live, attached = MonitorState(CONFIG), MonitorState(CONFIG)
    for event in events:
        live.apply(event)
    follower = LogFollower(run_dir)
    while not follower.caught_up:
        for event in follower.poll():
            attached.apply(event)
    assert points(attached.losses) == points(live.losses)
    assert points(attached.smoothed) == points(live.smoothed)
    assert (attached.iteration, attached.lr, attached.samples_per_s) == (live.iteration, live.lr, live.samples_per_s)
    assert attached.epoch == pytest.approx(live.epoch, abs=1e-9)


def test_a_log_costs_at_most_40_bytes_a_batch(run_dir):
    events = []
    for b in trainer_batches(6000):  # other records every 600 batches: an epoch of 60k digits
        events.append(b)
        if b.iteration % 600 == 0:
            events.append(ev.EpochDone(b.iteration // 600, b.iteration, 0.9, 0.9))
    logged(run_dir, events)
    size = (run_dir / "events.jsonl").stat().st_size
    assert size / 6000 <= 40 and len(list(read_events(run_dir))) == len(events)


def test_a_block_ends_where_the_next_batch_does_not_follow_on():
    from engine.runs import BatchBlock

    block, first = BatchBlock(), ev.BatchDone(5, 0.25, 1.0, 0.1, 1.0)
    assert block.takes(first)
    block.add(first)
    assert block.takes(ev.BatchDone(6, 0.5, 1.0, 0.1, 1.0))
    block.add(ev.BatchDone(6, 0.5, 1.0, 0.1, 1.0))
    assert block.takes(ev.BatchDone(7, 0.75, 1.0, 0.1, 1.0))
    assert not block.takes(ev.BatchDone(8, 0.75, 1.0, 0.1, 1.0))  # not the next one
    assert not block.takes(ev.BatchDone(7, 0.75, 1.0, 0.2, 1.0))  # another learning rate
    assert not block.takes(ev.BatchDone(7, 0.8, 1.0, 0.1, 1.0))  # off the epoch's line (a new batch size)
    assert not block.takes(ev.BatchDone(7, 0.75 + 1e-6, 1.0, 0.1, 1.0))
    record = block.take()
    assert (record.first, record.last, record.epoch, record.epoch_step) == (5, 6, 0.25, 0.25) and not len(block)
    for i in range(MAX_BATCHES):
        block.add(ev.BatchDone(i + 1, 0.0, 1.0, 0.1, 1.0))
    assert not block.takes(ev.BatchDone(MAX_BATCHES + 1, 0.0, 1.0, 0.1, 1.0))  # a line of bounded length


def test_a_resume_cuts_a_block_at_its_checkpoint_and_keeps_it_compact(run_dir):
    logged(run_dir, trainer_batches(50) + [ev.Paused(50)])
    truncate_log(run_dir, 37)
    assert [r["iteration"] for r in read_events(run_dir) if r["event"] == "BatchDone"] == list(range(1, 38))
    assert {json.loads(line)["event"] for line in (run_dir / "events.jsonl").read_text().splitlines()} == {"Batches"}


def test_export_writes_a_row_per_batch_from_a_compact_log(run_dir):
    batches = trainer_batches(30)
    logged(run_dir, batches[:20] + [ev.EpochDone(1, 20, 0.5, 0.4)] + batches[20:])
    (metrics, *_) = export_run(run_dir, "csv")
    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    assert [float(r["loss"]) for r in rows] == [as_float32(b.loss) for b in batches]
    assert [float(r["epoch"]) for r in rows] == pytest.approx([b.epoch for b in batches], abs=1e-9)
    assert rows[19]["test_acc"] == "0.4" and not rows[20]["test_acc"]


def test_an_older_log_with_a_record_per_batch_still_reads(run_dir):
    """As logs were written before Batches records: every reader takes them as they are."""
    batches = trainer_batches(25)
    events = [ev.Started(CONFIG, "16-8-10", "toy", TRAIN_SIZE, 100), *batches[:16],
              ev.EpochDone(1, 16, 0.5, 0.4), *batches[16:], ev.Finished(25, 1.0)]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(event_record(e)) + "\n" for e in events))
    got = [r for r in read_events(run_dir) if r["event"] == "BatchDone"]
    assert [(r["iteration"], r["epoch"], r["loss"], r["lr"]) for r in got] == [
        (b.iteration, b.epoch, b.loss, b.lr) for b in batches]  # exact, as they were written
    assert [e for e in history(run_dir) if isinstance(e, ev.BatchDone)] == batches
    state = MonitorState(CONFIG)
    for event in LogFollower(run_dir).poll():
        state.apply(event)
    assert points(state.losses) == ([b.iteration for b in batches], [b.loss for b in batches])
    assert state.state == "finished" and state.accuracy == [(16, 0.5, 0.4)]
    truncate_log(run_dir, 20)  # a resume of an older log keeps its records as they are
    assert [r["iteration"] for r in read_events(run_dir) if r["event"] == "BatchDone"] == list(range(1, 21))


GOOD_BLOCK = {"event": "Batches", "first": 11, "losses": [2.3025851, 0.5, "nan", "inf"], "lr": 0.1, "epoch": 0.1,
              "epoch_step": 0.01, "samples_per_s": 5000.0}
DAMAGED_BLOCKS = {
    "losses not a list": {"losses": "2.3,0.5"},
    "no losses": {"losses": []},
    "too many losses": {"losses": [1.0] * (MAX_BATCHES + 1)},
    "a loss that is text": {"losses": [1.0, "x"]},
    "a loss that is true": {"losses": [1.0, True]},
    "a loss that is a list": {"losses": [[1.0]]},
    "a negative first iteration": {"first": -1},
    "a first iteration that is a float": {"first": 11.0},
    "iterations past the last": {"first": MAX_COUNT - 2},
    "a falling epoch": {"epoch_step": -0.01},
    "an infinite epoch": {"epoch": 1e999},
    "an epoch that runs to infinity": {"epoch_step": 1e308},
    "a negative learning rate": {"lr": -0.1},
    "a nan rate": {"samples_per_s": "nan"},
    "a missing field": {"lr": None},
    "an unknown field": {"iteration": 3},
}


def test_a_good_block_decodes_to_its_batches():
    block = decode(GOOD_BLOCK)
    assert (block.first, block.last, block.lr, block.samples_per_s) == (11, 14, 0.1, 5000.0)
    np.testing.assert_array_equal(block.losses, [as_float32(2.3025851), 0.5, math.nan, math.inf])
    assert [b.iteration for b in block.batch_events()] == [11, 12, 13, 14]
    assert [b.epoch for b in block.batch_events()] == [0.1, 0.11, 0.12, 0.13]  # without float noise
    assert not block.losses.flags.writeable


@pytest.mark.parametrize("damage", DAMAGED_BLOCKS)
def test_a_damaged_block_is_refused_with_the_reason(damage):
    record = {k: v for k, v in {**GOOD_BLOCK, **DAMAGED_BLOCKS[damage]}.items() if v is not None}
    with pytest.raises(DamagedRecord) as refused:
        decode(record)
    assert str(refused.value)


def test_a_damaged_block_in_a_log_is_skipped_and_counted(run_dir):
    good = [json.dumps(GOOD_BLOCK), json.dumps({**GOOD_BLOCK, "first": 15})]
    bad = [json.dumps({**GOOD_BLOCK, **change}) for change in DAMAGED_BLOCKS.values() if None not in change.values()]
    (run_dir / "events.jsonl").write_text("\n".join([good[0], *bad, good[1]]) + "\n")
    skipped = Skipped()
    assert [e.first for e in read_log(run_dir / "events.jsonl", skipped)] == [11, 15]
    assert skipped.count == len(bad) and skipped.first.startswith("line 2: losses")
    events = LogFollower(run_dir).poll()
    assert [e.first for e in events[:-1]] == [11, 15] and events[-1] == RecordsSkipped(len(bad), skipped.first)


def test_the_run_browsers_summary_made_again_from_a_compact_log_is_the_one_its_run_made(run_dir):
    from engine.run_summary import SummaryBuilder, summarise_log

    batches = [dataclasses.replace(b, loss=as_float32(b.loss)) for b in trainer_batches(3000)]  # as the trainer's
    logged(run_dir, batches[:1500] + [ev.EpochDone(1, 1500, 0.5, 0.4)] + batches[1500:])
    live = SummaryBuilder()
    for event in batches:
        live.fold(event)
    again = summarise_log(run_dir / "events.jsonl")
    assert again.summary.iteration == 3000 and again.curves.loss.blocks == live.curves.loss.blocks
