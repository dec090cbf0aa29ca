"""The run's command channel: an attached monitor steers the process that trains the run."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from engine import events as ev
from engine.config import TrainConfig
from engine.control import CommandChannelWarning, CommandInbox, ControlError, RemoteTrainer, commands_size
from engine.controls import checked_setting
from engine.run_lock import RunLock
from engine.runs import FLUSH_EVERY, HOUSEKEEPING, RunLog, new_run_dir
from engine.trainer import Trainer
from tests.conftest import EventLog, make_dataset

CONFIG = TrainConfig(hidden_sizes=(8,), iters=1_000_000, batch_size=10, preview_count=0)


class RecordingTrainer:
    """Records the controls the inbox calls, with the Trainer's validation of settings."""

    def __init__(self):
        self.calls = []
        self.config = CONFIG

    def set(self, name, value):
        checked_setting(self.config, name, value)
        self.calls.append(("set", name, value))

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


@pytest.fixture
def run(tmp_path):
    return new_run_dir(tmp_path, CONFIG, "784-8-10")


@pytest.fixture
def live(run):
    """The run, trained (its lock held) by this process."""
    lock = RunLock(run)
    yield run
    lock.release()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_commands_reach_the_trainer_in_order_and_only_new_ones(live):
    run = live
    (run / "commands.jsonl").write_text('{"command": "pause"}\n')  # left by an earlier process
    os.chmod(run / "commands.jsonl", 0o600)  # as the listener creates it: a file open to others is refused
    trainer = RecordingTrainer()
    inbox = CommandInbox(run, trainer, lambda i: run / f"ck-{i}.npz")
    remote = RemoteTrainer(run)
    remote.step()
    remote.set("lr", 0.05)
    remote.request_checkpoint()
    remote.request_gradcheck()
    remote.request_evaluation()
    remote.resume()
    inbox.poll()
    names = [c[0] for c in trainer.calls]
    assert names == ["step", "set", "request_checkpoint", "request_gradcheck", "request_evaluation", "resume"]
    assert trainer.calls[1] == ("set", "lr", 0.05)
    assert trainer.calls[2][1](7) == run / "ck-7.npz"
    inbox.poll()
    assert len(trainer.calls) == 6  # each command runs once


def test_the_command_file_is_private_and_bad_lines_are_skipped(run):
    trainer = RecordingTrainer()
    inbox = CommandInbox(run, trainer, lambda i: run)
    assert stat.S_IMODE(os.stat(run / "commands.jsonl").st_mode) == 0o600
    with open(run / "commands.jsonl", "a") as f:
        f.write('not json\n{"command": "rm -rf"}\n["pause"]\n{"command": "set", "name": "seed", "value": 3}\n'
                '{"command": "set", "name": "lr", "value": -1}\n{"command": "pause"}\n{"command": "res')
    with pytest.warns(CommandChannelWarning, match="skipped"):
        inbox.poll()
    assert trainer.calls == [("pause",)]  # unknown, malformed, not-live and refused ones skipped, and said
    with open(run / "commands.jsonl", "a") as f:
        f.write('ume"}\n')  # the half-written line's end
    inbox.poll()
    assert trainer.calls == [("pause",), ("resume",)]


def test_a_bad_setting_is_refused_before_anything_is_sent(run):
    CommandInbox(run, RecordingTrainer(), lambda i: run)
    before = (run / "commands.jsonl").read_bytes()
    with pytest.raises(ValueError, match="learning rate"):
        RemoteTrainer(run).set("lr", 0)
    with pytest.raises(ValueError, match="optimizer"):
        RemoteTrainer(run).set("optimizer", "nesterov")
    assert (run / "commands.jsonl").read_bytes() == before


def test_nothing_listening_is_a_clear_error(run):
    remote = RemoteTrainer(run)
    assert remote.listener() is None
    with pytest.raises(ControlError, match="no process is training this run.*--resume"):
        remote.pause()
    lock = RunLock(run)
    assert remote.listener() == os.getpid()  # asked again at once: no cached answer
    lock.release()
    with pytest.raises(ControlError):
        remote.pause()


def test_commands_sent_after_the_lock_is_taken_wait_for_the_inbox(live):
    """A resumed run takes its lock before its data loads: commands sent meanwhile are for it."""
    (live / "commands.jsonl").write_text('{"command": "pause"}\n')  # left by an earlier process
    os.chmod(live / "commands.jsonl", 0o600)  # as the listener creates it: a file open to others is refused
    start = commands_size(live)  # the lock was just taken
    RemoteTrainer(live).step()
    trainer = RecordingTrainer()
    CommandInbox(live, trainer, lambda i: live, start).poll()
    assert trainer.calls == [("step",)]


def test_a_killed_listener_is_recognised(run):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from engine.run_lock import RunLock; "
         f"lock = RunLock({str(run)!r}); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert RemoteTrainer(run).listener() == holder.pid
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
    finally:
        holder.kill()
    assert json.loads((run / "lock").read_text())["pid"] == holder.pid  # the stale name stays in the file ...
    with pytest.raises(ControlError, match="ended or was killed"):  # ... but the kernel released the lock
        RemoteTrainer(run).step()


def test_a_run_log_takes_commands_for_its_trainer(run):
    lock = RunLock(run)
    events = EventLog()
    log = RunLog(run, events)
    trainer = Trainer(make_dataset(), CONFIG, log)
    log.attach(trainer)
    trainer.start()
    try:
        remote = RemoteTrainer(run)
        remote.pause()
        wait_for(lambda: trainer.state == "paused")
        at = trainer.iteration
        remote.set("lr", 0.025)
        remote.step()
        wait_for(lambda: trainer.iteration == at + 1)
        assert trainer.config.lr == 0.025
        # The paused run's last batch record reaches the log within a second, with no further event.
        # (FLUSH_EVERY + one HOUSEKEEPING look = 1.2 s at most; 1.02 s measured under load; 3x that.)
        wait_for(lambda: f'"first": {at + 1},' in (run / "events.jsonl").read_text(),  # the lr starts a block
                 timeout=3 * (FLUSH_EVERY + HOUSEKEEPING))
        changed = [e for e in events.of(ev.ParamChanged)]
        assert [(e.name, e.new) for e in changed] == [("lr", 0.025)]
    finally:
        trainer.stop()
        log.close()
        lock.release()
    with pytest.raises(ControlError):
        remote.resume()


def test_a_command_of_the_wrong_type_does_not_stop_the_channel(live):
    run = live
    events = EventLog()
    log = RunLog(run, events)
    trainer = Trainer(make_dataset(), CONFIG, log)
    log.attach(trainer)
    trainer.start(paused=True)
    try:
        with open(run / "commands.jsonl", "a") as f:  # hand-written: an unhashable optimizer name
            f.write('{"command": "set", "name": "optimizer", "value": [1]}\n{"command": 7}\n')
        RemoteTrainer(run).step()
        wait_for(lambda: trainer.iteration == 1)
        assert trainer.config.optimizer == CONFIG.optimizer
    finally:
        trainer.stop()
        log.close()


def test_a_run_that_a_live_process_trains_cannot_be_resumed(live, capsys):
    from engine.cli import main

    run = live  # this process "trains" it
    assert main(["train", "--resume", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"process {os.getpid()} is training" in err and "--attach" in err
    from tui.cli import main as tui_main

    with pytest.raises(SystemExit) as exit_:
        tui_main(["--resume", str(run)])
    assert exit_.value.code == 2 and "--attach" in capsys.readouterr().err
