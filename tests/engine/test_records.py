"""A run log's records are checked before use: damaged ones are skipped and counted, never raised."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as ev
from engine.config import TrainConfig
from engine.gradcheck import GradCheckRow
from engine.insight import LayerStatsRow
from engine.records import MAX_LINE, DamagedRecord, Skipped, decode, parse, plain, read_log
from engine.runs import LogFollower, RecordsSkipped, event_record
from tests.conftest import fuzz_examples
from tui.state import MonitorState

ROW = GradCheckRow("W1", (4, 3), 12, 12, 1e-12, 3e-12, 2e-6, 0, True)
LAYER = LayerStatsRow("Affine1", (1, 0, 3), (-0.5, 0.0, 0.25, 1.0), (2, 2, 0), (-1e-3, 0.0, 1e-3, 2e-3), 0.125, 3e-4, 0.25)
GOOD = [
    ev.Started(TrainConfig(hidden_sizes=(8,)), "16-8-10", "mnist", 100, 20),
    ev.Batches(1, np.array([2.3, float("nan")]), 0.1, 0.01, 0.01, 5000.0),
    ev.BatchDone(1, 0.01, 2.3, 0.1, 5000.0),
    ev.BatchDone(2, 0.02, float("nan"), 0.1, 5000.0),
    ev.EpochDone(1, 100, 0.5, 0.25),
    ev.Evaluated(101, 0.5, float("nan")),
    ev.GradCheckDone((ROW,), 10, 0.05),
    ev.LayerStats(10, (LAYER,)),
    ev.ParamChanged("lr", 0.1, 0.2, 12),
    ev.ParamChanged("optimizer", "sgd", "adam", 12),
    ev.Paused(3), ev.Resumed(3), ev.Diverged(4, float("inf")), ev.Finished(200, 1.5),
    ev.CheckpointSaved("/runs/a/checkpoints/ckpt-000000200.npz", 200),
    ev.WriteFailed("/runs/a/events.jsonl", "No space left on device"), ev.Failed("boom"),
]
# The hostile records a first release crashed on (issue 13), as they would sit in events.jsonl.
HOSTILE = [
    {"event": "LayerStats", "iteration": 5, "layers": [1]},
    {"event": "ParamChanged", "name": "seed", "old": 0, "new": 1, "iteration": 5},
    {"event": "ParamChanged", "name": "lr", "old": 0.1, "new": "fast", "iteration": 5},
    {"event": "ParamChanged", "name": "batch_size", "old": 10, "new": -3, "iteration": 5},
    {"event": "Paused", "iteration": "x"},
    {"event": "Finished", "iteration": 5, "seconds": "x"},
    {"event": "BatchDone", "iteration": 2**70, "epoch": 0, "loss": 1, "lr": 0.1, "samples_per_s": 1},
    {"event": "BatchDone", "iteration": True, "epoch": 0, "loss": 1, "lr": 0.1, "samples_per_s": 1},
    {"event": "EpochDone", "epoch": 1, "iteration": 5, "train_acc": 7.0, "test_acc": 0.5},
    {"event": "GradCheckDone", "rows": [{**ROW.__dict__, "shape": [4, 3], "checked": 99}], "iteration": 5,
     "seconds": 0.1},
    {"event": "LayerStats", "iteration": 5, "layers": [{**LAYER.__dict__, "weight_edges": [1.0, 0.0, 2.0, 3.0]}]},
    {"event": "Started", "config": {"hidden_sizes": "many"}, "architecture": "a", "dataset": "mnist",
     "train_size": 1, "test_size": 1, "iteration": 0},
    {"event": "Failed", "message": "x" * 5000},
    {"event": "Samples"},  # never logged: too big
    {"event": "Paused", "iteration": 1, "extra": 1},
    {"event": "Paused"},
    [1],
    "Paused",
    None,
]


@pytest.mark.parametrize("event", GOOD, ids=lambda e: type(e).__name__)
def test_what_the_trainer_logs_decodes_to_the_same_event(event):
    decoded = decode(json.loads(json.dumps(event_record(event))))
    assert type(decoded) is type(event)
    assert json.dumps(event_record(decoded)) == json.dumps(event_record(event))  # nan and inf included


@pytest.mark.parametrize("record", HOSTILE, ids=lambda r: json.dumps(r)[:50])
def test_a_damaged_record_is_refused_with_the_reason(record):
    with pytest.raises(DamagedRecord) as refused:
        decode(record)
    assert str(refused.value)


def test_lines_that_are_not_records_are_refused_not_raised():
    for line in (b"[" * 5000, b"{broken", b"\xff\xfe{}", b'{"event": "Paused", "iteration": 1e999999}',
                 b"x" * (MAX_LINE + 1)):
        with pytest.raises(DamagedRecord):
            parse(line)


def test_text_from_a_log_cannot_drive_the_terminal():
    osc52 = "\x1b]52;c;ZWNobyBoYWNrZWQ=\x1b\\"
    failed = decode({"event": "Failed", "message": f"boom {osc52} [link=https://evil.example]click[/link]\u202e"})
    assert "\x1b" not in failed.message and "\u202e" not in failed.message
    assert "[link=https://evil.example]click[/link]" in failed.message  # kept as text; shown without markup
    assert plain("tab\tand\nnewline") == "tab\tand\nnewline"


def test_a_log_with_damage_in_the_middle_gives_every_good_event_and_counts_the_rest(tmp_path):
    log = tmp_path / "events.jsonl"
    good = [json.dumps(event_record(e)) for e in GOOD]
    bad = [json.dumps(r) for r in HOSTILE] + ["[" * 5000, "{broken", "x" * (MAX_LINE + 10)]
    log.write_bytes(("\n".join(good[:5] + bad + good[5:]) + "\n").encode() + b"\xff\xfe\n")
    skipped = Skipped()
    events = list(read_log(log, skipped))
    assert [type(e) for e in events] == [type(e) for e in GOOD]
    assert skipped.count == len(bad) + 1 and skipped.first.startswith("line 6: ")
    assert str(skipped).startswith(f"{len(bad) + 1} damaged records skipped (first: line 6:")


def test_a_follower_skips_a_huge_line_without_holding_it(tmp_path, monkeypatch):
    from engine import runs

    monkeypatch.setattr(runs, "READ_LIMIT", 4096)
    monkeypatch.setattr(runs, "MAX_LINE", 10_000)
    log = tmp_path / "events.jsonl"
    follower = LogFollower(tmp_path)
    log.write_text(json.dumps(event_record(ev.Paused(1))) + "\n" + "[" * 50_000)  # no newline yet
    seen = []
    for _ in range(20):
        seen += follower.poll()
        assert len(follower.partial) <= 10_000 + 4096  # never the whole line
    with open(log, "a") as f:
        f.write("\n" + json.dumps(event_record(ev.Resumed(1))) + "\n")
    for _ in range(3):
        seen += follower.poll()
    assert seen == [ev.Paused(1), ev.Resumed(1), RecordsSkipped(1, "line 2: a line of over 10,000 bytes")]


def test_the_monitor_keeps_going_through_a_log_of_hostile_records(tmp_path):
    """As an attached monitor does: follow the log, fold every event into the state."""
    log = tmp_path / "events.jsonl"
    lines = [json.dumps(r) for r in HOSTILE] + [json.dumps(event_record(e)) for e in GOOD]
    log.write_text("\n".join(lines) + "\n")
    state = MonitorState(TrainConfig())
    for event in LogFollower(tmp_path).poll():
        state.apply(event)
    assert state.iteration == 2 and state.state == "failed" and state.damaged.startswith(
        f"the run's log: {len(HOSTILE)} damaged records skipped")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                    max_leaves=20)
KINDS = st.sampled_from([type(e).__name__ for e in GOOD] + ["Samples", "Nope"])


def mutated(event) -> st.SearchStrategy:
    """A record the trainer could have written, with one field replaced by anything, or dropped."""
    record = json.loads(json.dumps(event_record(event)))
    fields = sorted(set(record) - {"event"})
    return st.tuples(st.sampled_from(fields), JSON, st.booleans()).map(
        lambda change: {k: v for k, v in {**record, change[0]: change[1]}.items() if k != change[0] or change[2]})


RECORDS = st.one_of(JSON, st.fixed_dictionaries({"event": KINDS}, optional={"iteration": JSON, "message": JSON}),
                    *[mutated(e) for e in GOOD])


@settings(max_examples=fuzz_examples(400), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_any_record_decodes_or_is_refused_and_the_state_takes_what_decodes(record):
    try:
        event = decode(record)
    except DamagedRecord:
        return
    state = MonitorState(TrainConfig())
    state.apply(event)  # never raises
    for value in vars(event).values():
        if isinstance(value, float):
            assert not math.isnan(value) or type(event) in (ev.BatchDone, ev.Diverged, ev.Evaluated, ev.EpochDone,
                                                            ev.GradCheckDone)


def cli_train(data_dir, runs, *extra) -> int:
    from engine.cli import main

    return main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--hidden", "16", *extra])


DAMAGE = {
    "a garbage line in the middle": lambda log: log.write_bytes(_insert(log.read_bytes(), b"{garbage\n")),
    "a record that is not an object": lambda log: log.write_bytes(_insert(log.read_bytes(), b"[1, 2]\n")),
    "invalid UTF-8": lambda log: log.write_bytes(_insert(log.read_bytes(), b'{"event": "\xff\xfe"}\n')),
    "no log at all": lambda log: log.unlink(),
}


def _insert(data: bytes, line: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:3] + [line] + lines[3:])


@pytest.mark.parametrize("damage", DAMAGE)
def test_resume_and_export_go_on_from_a_damaged_log(damage, data_dir, tmp_path, capsys):
    from engine.cli import main
    from engine.runs import read_events

    runs = tmp_path / "runs"
    assert cli_train(data_dir, runs, "--iters", "12") == 0
    (run,) = runs.iterdir()
    DAMAGE[damage](run / "events.jsonl")
    capsys.readouterr()
    exported = main(["export", str(run)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if damage == "no log at all":  # nothing to export: one line says so
        assert exported == 1 and err.startswith("error: cannot export") and "No such file" in err
    else:
        assert exported == 0 and "1 damaged record skipped (first: line 4: " in err
    assert cli_train(data_dir, runs, "--resume", str(run), "--iters", "20") == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("1 damaged record skipped" in err) == (damage != "no log at all")
    batches = [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"]
    assert batches == (list(range(13, 21)) if damage == "no log at all" else list(range(1, 21)))


def test_resume_refuses_a_log_that_is_a_directory_in_one_line(data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli_train(data_dir, runs, "--iters", "12") == 0
    (run,) = runs.iterdir()
    (run / "events.jsonl").unlink()
    (run / "events.jsonl").mkdir()
    capsys.readouterr()
    assert cli_train(data_dir, runs, "--resume", str(run), "--iters", "20") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "events.jsonl: not a regular file" in errors[0]


def test_a_hostile_config_json_gives_no_data_folder(tmp_path):
    from engine.runs import recorded_data_dir

    config = tmp_path / "config.json"
    for text in ("[" * 100_000, '{"data_dir": 5}', '{"data_dir": "/data\\u001b]52;c;x\\u0007"}', "[1]", "\xff"):
        config.write_text(text)
        assert recorded_data_dir(tmp_path) is None, text
    config.write_text('{"data_dir": "/data/mnist"}')
    assert recorded_data_dir(tmp_path) == "/data/mnist"


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_log_that_is_not_a_regular_file_is_never_followed_nor_blocked_on(kind, tmp_path):
    import os

    from engine.runs import LogUnreadable, read_events

    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps(event_record(ev.Failed("from a file the run does not own"))) + "\n")
    run = tmp_path / "run"
    run.mkdir()
    log = run / "events.jsonl"
    {"symlink": lambda: log.symlink_to(secret), "fifo": lambda: os.mkfifo(log), "directory": log.mkdir}[kind]()
    follower = LogFollower(run)
    (problem,) = follower.poll()  # at once: a FIFO is not waited on
    assert isinstance(problem, LogUnreadable) and str(log) in problem.reason
    assert follower.poll() == []  # said once
    with pytest.raises(OSError):
        list(read_events(run))
    state = MonitorState(TrainConfig())
    state.apply(problem)
    assert state.damaged.startswith("the run's log cannot be read: ")
