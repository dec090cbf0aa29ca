"""The run summary file: written by the run's log, listed without reading the log, checked like the log,
stale or damaged ones replaced by reading the log, and news of running runs found by a stat."""
from __future__ import annotations

import json
import math
import os
import random

import numpy as np
import pytest

from engine import events as ev
from engine import run_summary, runs
from engine.config import TrainConfig
from engine.loss_blocks import MAX_BLOCKS, LossBlocks
from engine.records import DamagedRecord
from engine.run_index import list_runs, load_curves, refresh
from engine.run_lock import RunLock
from engine.run_summary import MAX_POINTS, SUMMARY_FILE, SummaryBuilder, read_row, read_summary, write_summary
from engine.runs import EVENTS_FILE, RunLog, new_run_dir, truncate_log

CONFIG = TrainConfig(hidden_sizes=(8,), batch_size=40, iters=1000, preview_count=0)


def loss(i: int) -> float:
    return 2.0 / i


def batches(first: int, last: int) -> list[ev.BatchDone]:
    return [ev.BatchDone(i, i / 10, loss(i), 0.1, 1000.0) for i in range(first, last + 1)]


def new_log(root, lr: float = 0.1) -> RunLog:
    config = TrainConfig(**{**vars(CONFIG), "lr": lr})
    log = RunLog(new_run_dir(root, config, "16-8-10"))
    log(ev.Started(config, "16-8-10", "toy", 400, 100))
    return log


def log_size(log: RunLog) -> int:
    return (log.run_dir / EVENTS_FILE).stat().st_size


def finished_run(root) -> RunLog:
    """A run of 20 batches, scored at 10 and 20, finished and closed."""
    log = new_log(root)
    for event in [*batches(1, 10), ev.EpochDone(1, 10, 0.5, 0.4), *batches(11, 20), ev.EpochDone(2, 20, 0.6, 0.3),
                  ev.Finished(20, 1.0)]:
        log(event)
    log.close()
    return log


def append(run_dir, events) -> None:
    """Records added to the log as a process killed before its next summary leaves them."""
    with open(run_dir / EVENTS_FILE, "a") as f:
        f.write("".join(json.dumps(runs.event_record(e)) + "\n" for e in events))


# ---- written by the run's log ---------------------------------------------------------------------

def test_the_summary_is_written_at_each_epoch_end_and_change_of_state_of_the_log_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "SUMMARY_EVERY", 0.0)  # every epoch end is due
    log = new_log(tmp_path)
    row = read_row(log.run_dir)  # at the start: listed as running at once
    assert (row.state, row.iteration, row.dataset, row.optimizer, row.log_size) == ("running", 0, "toy", "sgd", log_size(log))
    for event in batches(1, 10):
        log(event)
    assert read_row(log.run_dir).iteration == 0  # batches alone wait for the housekeeper (none here)
    log(ev.EpochDone(1, 10, 0.5, 0.4))
    row, curves = read_summary(log.run_dir)
    assert (row.iteration, row.best_test_acc, row.log_size) == (10, 0.4, log_size(log))  # the batches were written first
    assert curves.loss.middles() == list(range(1, 11)) and curves.loss.means() == pytest.approx([loss(i) for i in range(1, 11)])
    assert curves.accuracy == [(10, 0.5, 0.4)]
    for event in [*batches(11, 20), ev.EpochDone(2, 20, 0.6, 0.3)]:
        log(event)
    row, curves = read_summary(log.run_dir)
    assert (row.iteration, row.best_test_acc, row.state) == (20, 0.4, "running") and len(curves.accuracy) == 2
    log(ev.Paused(20))
    assert read_row(log.run_dir).state == "paused"
    log(ev.Finished(20, 1.0))
    assert read_row(log.run_dir).state == "finished" and read_row(log.run_dir).log_size == log_size(log)
    log.close()


def test_epoch_ends_closer_than_summary_every_are_written_together_at_the_latest_on_close(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "SUMMARY_EVERY", 1e9)  # none due after the first
    log = new_log(tmp_path)  # Started: written (a change of state is written whenever it comes)
    for epoch in range(1, 4):
        for event in [*batches(10 * epoch - 9, 10 * epoch), ev.EpochDone(epoch, 10 * epoch, 0.5, epoch / 10)]:
            log(event)
    assert read_row(log.run_dir).iteration == 0
    log.close()
    row, curves = read_summary(log.run_dir)
    assert (row.iteration, row.best_test_acc, row.log_size, len(curves.accuracy)) == (30, 0.3, log_size(log), 3)


def test_a_resume_cuts_the_summary_with_the_log_and_the_run_goes_on_from_it_without_reading_the_log(tmp_path,
                                                                                                    monkeypatch):
    log = new_log(tmp_path)
    for epoch in range(1, 4):
        for event in [*batches(10 * epoch - 9, 10 * epoch), ev.EpochDone(epoch, 10 * epoch, 0.5, epoch / 10)]:
            log(event)
    log.close()
    truncate_log(log.run_dir, 20)  # resumed from the checkpoint at 20
    row, curves = read_summary(log.run_dir)
    assert (row.iteration, row.best_test_acc, row.log_size) == (20, 0.2, log_size(log))
    assert [p[0] for p in curves.accuracy] == [10, 20] and curves.loss.middles() == list(range(1, 21))

    def no_reading(path):
        raise AssertionError("the log was read")

    monkeypatch.setattr(runs, "summarise_log", no_reading)
    resumed = RunLog(log.run_dir)
    for event in [ev.Started(CONFIG, "16-8-10", "toy", 400, 100, iteration=20), *batches(21, 25)]:
        resumed(event)
    resumed.close()
    row, curves = read_summary(log.run_dir)
    assert (row.iteration, row.log_size) == (25, log_size(log)) and curves.loss.middles() == list(range(1, 26))


# ---- listed from it -------------------------------------------------------------------------------

def test_a_run_is_listed_from_its_summary_without_reading_its_log_however_big(tmp_path, monkeypatch):
    log = finished_run(tmp_path)
    builder = SummaryBuilder(*read_summary(log.run_dir))
    huge = 1 << 30
    os.truncate(log.run_dir / EVENTS_FILE, huge)  # a GiB of zero bytes (sparse): read, it would be all damage
    write_summary(log.run_dir, builder.encode(huge))

    def no_reading(*args):
        raise AssertionError("the log was read")

    monkeypatch.setattr(run_summary, "read_log", no_reading)
    (run,) = list_runs(tmp_path)
    assert (run.dataset, run.architecture, run.settings) == ("toy", "16-8-10", "sgd lr 0.1 b40")
    assert (run.iteration, run.best_test_acc, run.state, run.damaged, run.summary_problem) == (20, 0.4, "finished", 0, "")
    assert run.curves is None  # read when the run is shown
    curves, problem = load_curves(run)
    assert problem == "" and curves.accuracy == [(10, 0.5, 0.4), (20, 0.6, 0.3)] and len(curves.loss.blocks) == 20


def test_a_stale_summary_is_used_while_its_run_is_trained_and_replaced_from_the_log_once_it_is_not(tmp_path):
    log = new_log(tmp_path)
    for event in [*batches(1, 10), ev.EpochDone(1, 10, 0.5, 0.4)]:
        log(event)
    log.save_summary()  # as its housekeeper does each second
    lock = RunLock(log.run_dir)
    append(log.run_dir, batches(11, 15))  # written since its last summary
    (run,) = list_runs(tmp_path)
    assert (run.iteration, run.state, run.curves) == (10, "running", None)  # its summary: a second behind at most
    lock.release()
    (run,) = list_runs(tmp_path)  # killed before its next summary: the log says more
    assert (run.iteration, run.state, run.summary_problem) == (15, "stopped", "")
    assert run.curves.loss.middles() == list(range(1, 16))  # read with the log
    row = read_row(log.run_dir)  # and written for the next listing: the run folder is this user's
    assert (row.iteration, row.log_size) == (15, log_size(log))


def damage_row(data: bytes) -> bytes:
    row, rest = data.split(b"\n", 1)
    return json.dumps({**json.loads(row), "state": "exploded"}).encode() + b"\n" + rest


def half_given(data: bytes) -> bytes:
    row, rest = data.split(b"\n", 1)
    return json.dumps({**json.loads(row), "optimizer": None}).encode() + b"\n" + rest  # lr given, optimizer not


@pytest.mark.parametrize("damage", [lambda data: b"\x00junk\n", lambda data: data[:40], damage_row, half_given,
                                    lambda data: data.replace(b'"version":1', b'"version":2')],
                         ids=["not JSON", "cut short", "unknown state", "half given", "another version"])
def test_a_damaged_summary_is_reported_and_the_run_listed_from_its_log(tmp_path, damage):
    log = finished_run(tmp_path)
    path = log.run_dir / SUMMARY_FILE
    path.write_bytes(damage(path.read_bytes()))
    (run,) = list_runs(tmp_path)
    assert (run.iteration, run.best_test_acc, run.state, run.settings) == (20, 0.4, "finished", "sgd lr 0.1 b40")
    assert run.summary_problem and run.curves.accuracy == [(10, 0.5, 0.4), (20, 0.6, 0.3)]
    assert read_row(log.run_dir).log_size == log_size(log)  # replaced by a good one
    (run,) = list_runs(tmp_path)
    assert run.summary_problem == "" and run.iteration == 20


def test_damaged_curves_are_read_from_the_log_and_said_so(tmp_path):
    log = finished_run(tmp_path)
    path = log.run_dir / SUMMARY_FILE
    row, curves = path.read_bytes().split(b"\n", 1)
    path.write_bytes(row + b"\n" + curves.replace(b'"width":1', b'"width":3'))
    (run,) = list_runs(tmp_path)  # the row is fine
    assert run.summary_problem == "" and run.iteration == 20
    curves, problem = load_curves(run)
    assert "power of two" in problem and curves.loss.middles() == list(range(1, 21))


def test_the_browser_writes_no_summary_through_a_symlink(tmp_path):
    elsewhere, listed = tmp_path / "elsewhere", tmp_path / "runs"
    log = finished_run(elsewhere)
    stale = (log.run_dir / SUMMARY_FILE).read_bytes()
    append(log.run_dir, batches(21, 25))
    listed.mkdir()
    (listed / log.run_dir.name).symlink_to(log.run_dir)  # a run folder that is a symlink: listed, never written
    (run,) = list_runs(listed)
    assert run.iteration == 25 and (log.run_dir / SUMMARY_FILE).read_bytes() == stale
    curves, problem = load_curves(run)  # from the log, like the row: not from the stale summary
    assert problem == "" and curves.loss.middles() == list(range(1, 26))
    target = tmp_path / "target"
    target.write_text("not for the browser")
    (log.run_dir / SUMMARY_FILE).unlink()
    (log.run_dir / SUMMARY_FILE).symlink_to(target)  # a summary that is a symlink: refused, replaced, not followed
    (run,) = list_runs(elsewhere)
    assert run.iteration == 25 and run.summary_problem and target.read_text() == "not for the browser"
    assert not (log.run_dir / SUMMARY_FILE).is_symlink() and read_row(log.run_dir).iteration == 25


def test_whatever_bytes_a_summary_holds_it_is_read_or_refused_as_damaged(tmp_path):
    log = finished_run(tmp_path)
    path, good = log.run_dir / SUMMARY_FILE, (log.run_dir / SUMMARY_FILE).read_bytes()
    shuffle = random.Random(14)
    cuts = [good[:n] for n in range(0, len(good), 29)]
    flips = [bytearray(good) for _ in range(100)]
    for data in flips:
        for _ in range(3):
            data[shuffle.randrange(len(data))] = shuffle.choice(b'0123456789-.,:[]{}"enaftrulx \n\xff')
    for data in cuts + flips:
        path.write_bytes(bytes(data))
        for read in (read_row, read_summary):
            try:
                read(log.run_dir)
            except DamagedRecord:
                pass


# ---- news of running runs ---------------------------------------------------------------------------

def test_a_running_runs_news_is_found_by_a_stat_and_its_end_by_its_lock(tmp_path):
    quiet = finished_run(tmp_path)
    log = new_log(tmp_path, lr=0.05)
    lock = RunLock(log.run_dir)
    for event in [*batches(1, 10), ev.EpochDone(1, 10, 0.5, 0.4)]:
        log(event)
    listed = list_runs(tmp_path)
    assert refresh(listed) == []  # nothing new
    for event in batches(11, 20):
        log(event)
    assert refresh(listed) == []  # in the log, not yet in the summary
    log.save_summary()  # as its housekeeper does each second
    (fresh,) = refresh(listed)
    assert (fresh.path, fresh.iteration, fresh.state) == (log.run_dir, 20, "running")
    listed = [fresh if run.path == fresh.path else run for run in listed]
    assert refresh(listed) == []
    lock.release()  # its process ended: no new summary, but no lock holder either
    (ended,) = refresh(listed)
    assert (ended.path, ended.iteration, ended.state) == (log.run_dir, 20, "stopped")
    assert quiet.run_dir in [run.path for run in listed]
    log.close()


# ---- bounded --------------------------------------------------------------------------------------

def test_loss_blocks_hold_any_length_in_at_most_max_blocks_with_each_blocks_min_max_and_mean():
    losses = np.random.default_rng(0).lognormal(size=5 * MAX_BLOCKS + 123)
    blocks = LossBlocks()
    for i, value in enumerate(losses, start=1):
        blocks.add(i, float(value))
    assert MAX_BLOCKS // 2 < len(blocks.blocks) <= MAX_BLOCKS and blocks.width == 8
    assert all(b[2] == blocks.width for b in blocks.blocks[:-1]) and 1 <= blocks.blocks[-1][2] <= blocks.width
    for b, low, high, mean in zip(blocks.blocks, blocks.lows(), blocks.highs(), blocks.means()):
        part = losses[b[0] - 1:b[1]]
        assert len(part) == b[2] and (low, high) == (part.min(), part.max())
        assert mean == pytest.approx(part.mean(), rel=1e-12)
    again = LossBlocks.decode(json.loads(json.dumps(blocks.encode())))
    assert (again.width, again.middles(), again.lows(), again.highs()) == (8, blocks.middles(), blocks.lows(), blocks.highs())
    assert again.means() == pytest.approx(blocks.means(), rel=1e-12)
    blocks.add(len(losses) + 1, math.nan)  # a diverged batch shows in its block
    assert math.isnan(blocks.lows()[-1]) and math.isnan(LossBlocks.decode(blocks.encode()).highs()[-1])


@pytest.mark.parametrize("blocks, reason", [
    ({"width": 3, "blocks": []}, "power of two"),
    ({"width": 2, "blocks": [[1, 2, 3, 0.1, 0.2, 0.1]]}, "from 0 to 2"),
    ({"width": 2, "blocks": [[1, 1, 1, 0.1, 0.1, 0.1], [2, 3, 2, 0.1, 0.2, 0.1]]}, "every block but the last"),
    ({"width": 1, "blocks": [[1, 1, 1, 0.1, 0.1]]}, "6 values"),
    ({"width": 1, "blocks": [[1, 1, 1, 0.1, "x", 0.1]]}, "not a number"),
    ({"width": 1, "blocks": [[i, i, 1, 0.1, 0.1, 0.1] for i in range(MAX_BLOCKS + 1)]}, "at most"),
])
def test_loss_blocks_not_as_written_are_refused(blocks, reason):
    with pytest.raises(DamagedRecord, match=reason):
        LossBlocks.decode(blocks)


def test_accuracy_points_are_thinned_to_max_points_keeping_the_first_the_newest_and_the_best(tmp_path):
    builder = SummaryBuilder()
    epochs = 4 * MAX_POINTS + 7
    for epoch in range(epochs):
        builder.fold(ev.EpochDone(epoch, 10 * epoch, 0.5, 0.9 if epoch == 3 else 0.5))  # the best soon thinned out
    points = builder.curves.accuracy
    assert MAX_POINTS // 2 < len(points) <= MAX_POINTS and points[0][0] == 0 and points[-1][0] == 10 * (epochs - 1)
    assert builder.summary.best_test_acc == 0.9 and all(p[2] == 0.5 for p in points)
    write_summary(tmp_path, builder.encode(0))
    assert read_summary(tmp_path)[1].accuracy == points

