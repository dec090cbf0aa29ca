"""Faults in ordinary use: a full or read-only disk, two processes resuming one run, a lost data folder.

Real file systems where the machine allows it (a tiny tmpfs or a read-only bind mount in a private
mount namespace, made with `unshare`; skipped where that is not permitted), else an injected error.
What the app does about them is in tests/tui/test_faults.py.
"""
from __future__ import annotations

import errno
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import events as ev
from engine.checkpoint import load_checkpoint
from engine.cli import main
from engine.config import TrainConfig
from engine.run_lock import RunLock, holder
from engine.runs import CheckpointPolicy, RunLog, checkpoints, latest_checkpoint, new_run_dir, recorded_data_dir
from engine.trainer import Trainer
from tests.conftest import ROOT, EventLog, assert_whole_log, logged_batches, make_dataset

CONFIG = TrainConfig(hidden_sizes=(8,), batch_size=40, iters=1_000_000, preview_count=5, insight_every=0)


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_namespace = pytest.mark.skipif(not can_unshare(), reason="no private mount namespaces here (unshare -rm)")


def in_namespace(mount: str, command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the shell `command` after the shell `mount` in a private mount namespace (gone when it ends)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"{mount} && {command}"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def engine_train(*args) -> str:
    return shlex.join([sys.executable, "-m", "engine", "train", *map(str, args)])


def wait_for(predicate, timeout=10.0, what=""):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# ---- write failures: the CLI ---------------------------------------------------------------------


@needs_namespace
def test_a_full_disk_stops_the_cli_with_one_line_and_damages_nothing(data_dir, tmp_path):
    runs, copy = tmp_path / "runs", tmp_path / "copy"
    runs.mkdir()
    train = engine_train("--data-dir", data_dir, "--runs-dir", runs, "--iters", 100_000, "--batch-size", 20)
    result = in_namespace(f"mount -t tmpfs -o size=600k tmpfs {runs}",
                          f"{train}; echo exit=$?; cp -a {runs} {copy}", tmp_path)
    assert "exit=1" in result.stdout, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "Traceback" not in result.stderr
    (run,) = copy.iterdir()
    assert str(runs / run.name) in errors[0] and "--resume" in errors[0]
    assert_whole_log(run)
    for path in checkpoints(run):
        load_checkpoint(path)  # each one whole: written atomically, or not at all


@needs_namespace
def test_a_read_only_runs_folder_or_run_is_one_line_not_a_traceback(data_dir, tmp_path):
    runs = tmp_path / "runs"
    assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--iters", "30",
                 "--batch-size", "20"]) == 0
    (run,) = runs.iterdir()
    read_only = f"mount --bind {runs} {runs} && mount -o remount,bind,ro {runs}"
    for command in (engine_train("--data-dir", data_dir, "--runs-dir", runs, "--iters", 30),
                    engine_train("--resume", run, "--iters", 60)):
        result = in_namespace(read_only, command, tmp_path)
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
        assert len(errors) == 1 and "Read-only file system" in errors[0], result.stderr
    assert len(list(runs.iterdir())) == 1 and assert_whole_log(run)


@pytest.mark.parametrize("where", ["file", "proc"])
def test_a_runs_folder_that_cannot_be_one_is_one_line(where, data_dir, tmp_path, capsys):
    if where == "file":
        runs = tmp_path / "a-file"
        runs.write_text("not a folder")
    else:
        runs = Path("/proc/self")
    assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--iters", "5"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    assert len(err) == 1 and err[0].startswith(f"error: cannot make a run directory in {runs}")


# ---- write failures: the run log pauses, keeps its records and tries again -----------------------


@pytest.fixture
def logged(tmp_path):
    """A real trainer writing a run log, its forwarded events, and a switch that breaks the log's writes."""
    events = EventLog()
    log = RunLog(new_run_dir(tmp_path, CONFIG, "16-8-10"), events, CheckpointPolicy(every=0))
    trainer = Trainer(make_dataset(), CONFIG, log)
    log.attach(trainer)
    yield trainer, log, events
    trainer.stop()
    log.close()


def test_a_log_write_failure_pauses_and_resuming_writes_what_waited(logged, monkeypatch):
    trainer, log, events = logged
    full = {"on": False}
    real_write = os.write

    def write(fd, data):
        if full["on"] and fd == log._fd:
            real_write(fd, bytes(data)[:7])  # part of a record reaches the disk before it fills
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    trainer.start()
    events.wait_kind(ev.BatchDone, 5)
    full["on"] = True
    (failure,) = events.wait_kind(ev.WriteFailed)
    assert failure.path.endswith("events.jsonl") and failure.message == "No space left on device"
    wait_for(lambda: trainer.state == "paused", what="the pause")
    time.sleep(0.5)  # the housekeeper's looks: they do not report the same failure again
    assert len(events.of(ev.WriteFailed)) == 1
    assert_whole_log(log.run_dir)  # the half record was cut off
    full["on"] = False
    at = trainer.iteration
    trainer.resume()
    events.wait_kind(ev.Resumed)
    wait_for(lambda: trainer.iteration > at + 5, what="training to go on")
    trainer.pause()
    events.wait_kind(ev.Paused, 2)
    log.flush()
    assert_whole_log(log.run_dir)
    batches = logged_batches(log.run_dir)
    assert batches[-1] == trainer.iteration  # the records made while the disk was full were kept and written


def test_a_samples_or_checkpoint_write_failure_pauses_and_the_checkpoint_is_asked_again(logged, monkeypatch):
    import engine.runs
    import engine.trainer

    trainer, log, events = logged
    real_save = engine.trainer.save_checkpoint
    denied = {"samples": True, "checkpoints": True}

    def save_samples(path, samples):
        if denied["samples"]:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def save_checkpoint(path, checkpoint):
        if denied["checkpoints"]:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_save(path, checkpoint)

    monkeypatch.setattr(engine.runs, "save_samples", save_samples)
    monkeypatch.setattr(engine.trainer, "save_checkpoint", save_checkpoint)
    trainer.start()
    (failure,) = events.wait_kind(ev.WriteFailed)  # the first score's preview digits
    assert failure.path.endswith("samples.npz") and failure.message == "Permission denied"
    wait_for(lambda: trainer.state == "paused", what="the pause")
    denied["samples"] = False
    trainer.resume()
    # The first epoch's checkpoint fails. (The first score's digits may have failed twice by then: the
    # scorer can hand them over again while the run stands paused, so the failure is looked for by path.)
    is_checkpoint_failure = lambda e: isinstance(e, ev.WriteFailed) and "ckpt-" in e.path
    events.wait_for(lambda evs: any(map(is_checkpoint_failure, evs)), timeout=30)
    failure = next(e for e in events.of(ev.WriteFailed) if is_checkpoint_failure(e))
    assert failure.message == "Read-only file system"
    wait_for(lambda: trainer.state == "paused", what="the pause")
    assert checkpoints(log.run_dir) == []
    denied["checkpoints"] = False
    trainer.resume()
    (saved,) = events.wait_kind(ev.CheckpointSaved, timeout=30)  # returns as soon as it comes (load: slow)
    assert saved.iteration < 20  # asked again on resume, not at the next epoch's end (10 batches an epoch)


# ---- one lock per run ----------------------------------------------------------------------------


def test_the_lock_is_exclusive_and_released_when_its_holder_ends(tmp_path):
    run = new_run_dir(tmp_path, CONFIG, "16-8-10")
    assert holder(run) is None
    lock = RunLock(run)
    assert holder(run) == os.getpid()
    with pytest.raises(Exception, match=f"process {os.getpid()} is training"):
        RunLock(run)
    lock.release()
    assert holder(run) is None
    RunLock(run).release()  # free again


def test_two_resumes_started_together_one_trains_the_other_is_refused_at_once(data_dir, tmp_path):
    runs = tmp_path / "runs"
    assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--iters", "20",
                 "--batch-size", "20"]) == 0
    (run,) = runs.iterdir()
    resume = [sys.executable, "-m", "engine", "train", "--resume", str(run), "--iters", "10000000"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [subprocess.Popen(resume, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    try:
        # The refused one ends by itself while the other trains on (it would train for hours).
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in racers):
            assert time.monotonic() < deadline, "neither resume was refused"
            time.sleep(0.05)
        (loser,) = [p for p in racers if p.poll() is not None]
        (winner,) = [p for p in racers if p is not loser]
        assert loser.returncode == 1
        refusal = loser.stderr.read()  # the winner is named, unless it was refused before it wrote its name
        assert f"process {winner.pid} is training" in refusal or "another process is training" in refusal
        wait_for(lambda: 40 in logged_batches(run), 60, "the winner to train")
        assert holder(run) == winner.pid
    finally:
        for p in racers:
            p.send_signal(signal.SIGTERM)  # (SIGINT is ignored in a background job, as CI may run us)
        for p in racers:
            p.wait(60)
    assert winner.returncode == 130 and holder(run) is None
    records = assert_whole_log(run)
    assert sum(r["event"] == "Started" for r in records) == 2  # the first run's and the winner's, nobody else's


# ---- resume remembers its data -------------------------------------------------------------------


def test_resume_reads_the_data_folder_the_run_recorded_and_the_printed_command_works(data_dir, tmp_path):
    """Interrupted like ctrl+c, the CLI prints a resume command; pasted as printed, with no cache, it continues."""
    runs = tmp_path / "my runs"  # a space: the command must be quoted
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BACKPROP_TUI_DATA": str(tmp_path / "empty-cache"),
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}  # no cache, no download
    first = subprocess.Popen([sys.executable, "-m", "engine", "train", "--data-dir", str(data_dir), "--runs-dir",
                              str(runs), "--iters", "10000000", "--batch-size", "20"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "epoch   1" in _lines_until(first.stdout, "epoch   1")[-1]
    finally:
        first.send_signal(signal.SIGTERM)  # as ctrl+c (SIGINT is ignored in a background job)
        _, err = first.communicate(timeout=60)
    (run,) = runs.iterdir()
    assert recorded_data_dir(run) == str(data_dir.resolve())
    printed = err.strip().splitlines()[-1].split("resume with: ", 1)[1]
    stopped_at = int(err.strip().splitlines()[-1].split("interrupted at iteration ", 1)[1].split(";")[0].replace(",", ""))
    assert stopped_at == latest_checkpoint(run).iteration  # where it says it stopped is where it resumes
    argv = shlex.split(printed)
    assert argv[:3] == ["python", "-m", "engine"]
    done = subprocess.run([sys.executable, *argv[1:], "--iters", "100"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "resumed at iteration" in done.stdout and f"done: 100 iterations ({100 - stopped_at:,} of them here)" \
        in done.stdout  # its samples/s are this process's
    plain = subprocess.run([sys.executable, "-m", "engine", "train", "--resume", str(run), "--iters", "120"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr  # no --data-dir at all: the recorded folder


def _lines_until(stream, text: str) -> list[str]:
    lines = []
    for line in iter(stream.readline, ""):
        lines.append(line)
        if text in line:
            break
    return lines


def test_an_empty_resume_is_refused(capsys, tmp_path):
    assert main(["train", "--resume", "", "--runs-dir", str(tmp_path)]) == 1
    assert "no run named" in capsys.readouterr().err
    from tui.cli import main as tui_main

    with pytest.raises(SystemExit) as exit_:
        tui_main(["--resume", "", "--runs-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "no run named" in capsys.readouterr().err


# ---- manual checkpoints and file modes -----------------------------------------------------------


def test_checkpoints_asked_for_by_hand_are_never_rotated(tmp_path):
    events = EventLog()
    log = RunLog(new_run_dir(tmp_path, CONFIG, "16-8-10"), events, CheckpointPolicy(keep=2, every=0))
    trainer = Trainer(make_dataset(), CONFIG.with_changes(epochs=6), log)  # 10 batches an epoch
    log.attach(trainer)
    trainer.start(paused=True)
    trainer.step()
    events.wait_kind(ev.BatchDone)
    trainer.request_checkpoint(log.manual_checkpoint_path)  # key c at iteration 1
    events.wait_kind(ev.CheckpointSaved)
    trainer.resume()
    events.wait_kind(ev.Finished, timeout=30)
    trainer.stop()
    log.close()
    names = [p.name for p in checkpoints(log.run_dir)]
    assert names == ["ckpt-000000001-manual.npz", "ckpt-000000050.npz", "ckpt-000000060.npz"]


def test_every_file_of_a_run_is_the_owners_only_also_after_a_resume(data_dir, tmp_path):
    runs = tmp_path / "runs"
    old = os.umask(0o022)
    try:
        assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--iters", "30",
                     "--batch-size", "20"]) == 0
        (run,) = runs.iterdir()
        modes = {}
        for attempt in ("first", "resumed"):
            if attempt == "resumed":
                assert main(["train", "--resume", str(run), "--iters", "45"]) == 0
            modes[attempt] = {p.relative_to(run): stat.S_IMODE(p.stat().st_mode) for p in [run, *run.rglob("*")]}
    finally:
        os.umask(old)
    assert {Path("events.jsonl"), Path("config.json"), Path("lock"), Path("samples.npz")} <= modes["first"].keys()
    for path, mode in modes["resumed"].items():
        assert mode == (0o700 if (run / path).is_dir() else 0o600), path
        assert modes["first"].get(path, mode) == mode, path  # no file changes mode on a resume
