"""The command channel and the lock's name, tried as a hostile user would (issue 13, item 3).

A run directory's files may be symlinks, FIFOs, another user's files or hold any bytes at all:
the channel refuses what it cannot trust with one clear message, follows no link, never blocks,
and no line stops the listener.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import stat
import threading
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import TrainConfig
from engine.control import (
    MAX_COMMAND,
    CommandInbox,
    ControlError,
    RemoteTrainer,
    checked_command,
    commands_size,
)
from engine.controls import LIVE_SETTINGS, checked_setting
from engine.optimizers import OPTIMIZERS
from engine.run_lock import MAX_NAME, PID_MAX_LIMIT, UNNAMED, RunLock, holder, pid_max, valid_pid
from engine.runs import FLUSH_EVERY, HOUSEKEEPING, ChannelProblem, RunLog, new_run_dir
from engine.trainer import Trainer
from tests.conftest import EventLog, fuzz_examples, make_dataset
from tests.fakes import TOY, ScriptedTrainer
from tui.session.attached import AttachedSession
from tui.state import MonitorState

CONFIG = TrainConfig(hidden_sizes=(8,), iters=1_000_000, batch_size=10, preview_count=0)
PAUSE = b'{"command": "pause"}\n'
ANOTHER_UID = 4242


class Recorder:
    """A trainer that records the controls called on it."""

    def __init__(self):
        self.calls = []

    def set(self, name, value):
        self.calls.append(("set", name, value))

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name,))


@pytest.fixture
def run(tmp_path):
    return new_run_dir(tmp_path, CONFIG, "784-8-10")


@pytest.fixture
def live(run):
    """The run, trained (its lock held, its command file made) by this process, so RemoteTrainer sends to it."""
    lock = RunLock(run)
    commands_size(run)
    yield run
    lock.release()


def inbox_of(run):
    """An inbox whose trainer and warnings the test reads: (inbox, trainer, warnings)."""
    trainer, warnings = Recorder(), []
    return CommandInbox(run, trainer, lambda i: run, warn=warnings.append), trainer, warnings


def append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def finishes(call, timeout=5.0):
    """call()'s result (or its exception), failing the test if it blocks: it runs in a daemon thread, which
    a blocked call cannot keep the tests from ending."""
    outcome = {}

    def attempt():
        try:
            outcome["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - raised again below, in the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def sending_refused(run) -> str:
    with pytest.raises(ControlError) as refused:
        RemoteTrainer(run).pause()
    return str(refused.value)


# ---- what the command file may be ------------------------------------------------------------------


def test_a_symlinked_command_file_is_refused_and_its_target_left_alone(live, tmp_path):
    target = tmp_path / "yours.txt"
    target.write_bytes(PAUSE)
    os.chmod(target, 0o644)
    (live / "commands.jsonl").unlink()
    (live / "commands.jsonl").symlink_to(target)

    assert commands_size(live) is None  # a trainer starting: neither chmod nor reading through the link
    inbox, trainer, warnings = inbox_of(live)
    append(target, PAUSE)  # written to the target: not a command
    inbox.poll()
    inbox.poll()
    assert trainer.calls == []
    assert len(warnings) == 1 and "commands.jsonl is a symbolic link" in warnings[0]  # said once
    assert "refused as the run's command channel" in sending_refused(live)
    assert target.read_bytes() == PAUSE * 2 and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_dangling_symlink_is_refused_and_its_target_never_created(live, tmp_path):
    target = tmp_path / "not-yet"
    (live / "commands.jsonl").unlink()
    (live / "commands.jsonl").symlink_to(target)

    assert commands_size(live) is None
    inbox, trainer, warnings = inbox_of(live)
    inbox.poll()
    assert "is a symbolic link" in sending_refused(live)
    assert not os.path.lexists(target) and warnings and trainer.calls == []


def test_a_fifo_is_refused_without_blocking(live):
    (live / "commands.jsonl").unlink()
    os.mkfifo(live / "commands.jsonl", 0o600)

    assert finishes(lambda: commands_size(live)) is None
    inbox, trainer, warnings = finishes(lambda: inbox_of(live))
    finishes(inbox.poll)
    assert "is not a regular file" in warnings[0]
    assert "is not a regular file" in finishes(lambda: sending_refused(live))  # no reader: refused at open
    reader = os.open(live / "commands.jsonl", os.O_RDONLY | os.O_NONBLOCK)
    try:  # with a reader the open succeeds, and the file's type refuses it
        assert "is not a regular file" in finishes(lambda: sending_refused(live))
    finally:
        os.close(reader)


def test_a_directory_in_its_place_is_refused(live):
    (live / "commands.jsonl").unlink()
    (live / "commands.jsonl").mkdir(mode=0o700)
    assert commands_size(live) is None
    inbox, _, warnings = inbox_of(live)
    inbox.poll()
    assert "commands.jsonl: cannot be opened" in warnings[0]
    assert "cannot be opened" in sending_refused(live)


@pytest.fixture
def someone_elses(monkeypatch):
    """Makes a file another user's: chown as root; otherwise this process plays another user."""
    def make(path):
        if os.geteuid() == 0:
            os.chown(path, ANOTHER_UID, ANOTHER_UID)
        else:  # cannot chown: the file stays ours, and the check is asked as another uid
            monkeypatch.setattr(os, "geteuid", lambda: ANOTHER_UID)
    return make


def test_a_command_file_of_another_user_is_refused(live, someone_elses):
    inbox, trainer, warnings = inbox_of(live)
    someone_elses(live / "commands.jsonl")
    append(live / "commands.jsonl", PAUSE)
    inbox.poll()
    assert trainer.calls == [] and "belongs to another user" in warnings[0]
    assert "belongs to another user" in sending_refused(live)


@pytest.mark.parametrize("mode", [0o640, 0o620, 0o604, 0o602, 0o666])
def test_a_command_file_open_to_other_users_is_refused_and_not_chmodded(live, mode):
    inbox, trainer, warnings = inbox_of(live)
    os.chmod(live / "commands.jsonl", mode)
    append(live / "commands.jsonl", PAUSE)
    assert commands_size(live) is None
    inbox.poll()
    assert trainer.calls == [] and f"is open to other users (mode {mode:04o})" in warnings[0]
    assert "open to other users" in sending_refused(live)
    assert stat.S_IMODE(os.stat(live / "commands.jsonl").st_mode) == mode


def test_once_the_file_is_fixed_commands_sent_after_it_run(live, tmp_path):
    (live / "commands.jsonl").unlink()
    (live / "commands.jsonl").symlink_to(tmp_path / "elsewhere")
    inbox, trainer, warnings = inbox_of(live)
    (live / "commands.jsonl").unlink()
    fd = os.open(live / "commands.jsonl", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, PAUSE)  # there before the file was accepted: not known to be for this run
    os.close(fd)
    inbox.poll()
    RemoteTrainer(live).step()
    inbox.poll()
    assert trainer.calls == [("step",)] and len(warnings) == 1


def test_a_file_that_cannot_be_read_is_said_once_and_read_again_later(run, monkeypatch):
    inbox, trainer, warnings = inbox_of(run)
    append(run / "commands.jsonl", PAUSE)

    def failing_disk(f, limit):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("engine.control.lines", failing_disk)
    inbox.poll()
    inbox.poll()
    monkeypatch.undo()
    inbox.poll()
    assert trainer.calls == [("pause",)]
    assert warnings == [f"{run / 'commands.jsonl'}: cannot be read: Input/output error"]


def test_a_missing_command_file_is_made_again_owner_only(live):
    inbox, trainer, _ = inbox_of(live)
    (live / "commands.jsonl").unlink()
    inbox.poll()
    assert stat.S_IMODE(os.stat(live / "commands.jsonl").st_mode) == 0o600
    RemoteTrainer(live).resume()
    inbox.poll()
    assert trainer.calls == [("resume",)]


# ---- what a line may hold --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 1023])  # over-long; within the bound but too deep for json
def test_a_deeply_nested_line_does_not_stop_the_commands_after_it(run, depth):
    inbox, trainer, warnings = inbox_of(run)
    append(run / "commands.jsonl", b"[" * depth + b"\n" + PAUSE)
    inbox.poll()
    assert trainer.calls == [("pause",)] and "1 damaged record skipped" in warnings[0]


def test_an_over_long_line_is_skipped_without_being_held_whole(run):
    inbox, trainer, warnings = inbox_of(run)
    half = b'{"command": "pause", "x": "' + b"x" * (4 << 20)
    rest = half + b'"}\n{"command": "step"}\n'
    append(run / "commands.jsonl", half)  # still being written when the inbox looks
    tracemalloc.start()
    try:
        inbox.poll()
        append(run / "commands.jsonl", rest)
        inbox.poll()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert trainer.calls == [("step",)]
    assert len(warnings) == 1 and f"a line of over {MAX_COMMAND:,} bytes" in warnings[0]
    assert peak < 1 << 20  # a few pieces of MAX_COMMAND and the file's buffer, never the 8 MiB line


def test_a_line_still_being_written_waits_for_its_end(run):
    inbox, trainer, warnings = inbox_of(run)
    append(run / "commands.jsonl", b'{"command": "st')
    inbox.poll()
    append(run / "commands.jsonl", b'ep"}\n')
    inbox.poll()
    assert trainer.calls == [("step",)] and warnings == []


@pytest.mark.parametrize("line, reason", [
    (b"\xff\xfe", "not UTF-8"),
    (b"not json", "not JSON"),
    (b'["pause"]', "not an object"),
    (b'{"command": ["pause"]}', "not an object whose command is one of"),
    (b'{"command": "rm -rf"}', "not an object whose command is one of"),
    (b'{"command": "pause", "now": true}', "pause takes no arguments"),
    (b'{"command": "set", "name": "lr"}', "set takes name and value"),
    (b'{"command": "set", "name": "seed", "value": 3}', "is not one of lr"),
    (b'{"command": "set", "name": ["lr"], "value": 0.1}', "is not one of lr"),
    (b'{"command": "set", "name": "optimizer", "value": [1]}', "not a number or a name"),
    (b'{"command": "set", "name": "lr", "value": {"a": [[[]]]}}', "not a number or a name"),
    (b'{"command": "set", "name": "lr", "value": -1}', "set lr: learning rate"),
    (b'{"command": "set", "name": "batch_size", "value": 1e999}', "set batch_size"),
])
def test_a_line_that_is_not_a_command_the_sender_writes_is_skipped_and_said(run, line, reason):
    inbox, trainer, warnings = inbox_of(run)
    append(run / "commands.jsonl", line + b"\n" + PAUSE)
    inbox.poll()
    assert trainer.calls == [("pause",)]
    assert len(warnings) == 1 and "1 damaged record skipped (first: byte " in warnings[0] and reason in warnings[0]


def test_a_command_the_trainer_fails_is_said_and_the_next_one_runs(run):
    inbox, trainer, warnings = inbox_of(run)

    def broken():
        raise RuntimeError("\x1b]52;c;aGk=\x07 boom")  # an escape sequence reaches no terminal through it

    trainer.step = broken
    append(run / "commands.jsonl", b'{"command": "step"}\n' + PAUSE)
    inbox.poll()
    assert trainer.calls == [("pause",)]
    assert len(warnings) == 1 and "the command step failed" in warnings[0] and "\x1b" not in warnings[0]


def test_the_listener_thread_survives_a_hostile_line(live):
    """The issue's case: one deeply nested line used to kill the housekeeping thread (later commands
    ignored, the paused run's records no longer flushed)."""
    run, events = live, EventLog()
    log = RunLog(run, events)
    trainer = Trainer(make_dataset(), CONFIG, log)
    log.attach(trainer)
    trainer.start(paused=True)
    try:
        append(run / "commands.jsonl", b"[" * 100_000 + b"\n" + b"[" * 1023 + b"\n")
        RemoteTrainer(run).step()
        deadline = time.monotonic() + 10
        while trainer.iteration < 1:
            assert time.monotonic() < deadline, "the step never ran"
            time.sleep(0.02)
        deadline = time.monotonic() + 3 * (FLUSH_EVERY + HOUSEKEEPING)
        while '"first": 1,' not in (run / "events.jsonl").read_text():  # the batch's Batches record
            assert time.monotonic() < deadline, "the paused run's last record was never flushed"
            time.sleep(0.02)
        problems = events.of(ChannelProblem)  # once, or twice if a look fell in the middle of the write
        assert problems and all("damaged record" in p.message for p in problems)
    finally:
        trainer.stop()
        log.close()


def test_a_run_log_says_once_that_its_command_file_is_refused(live, tmp_path):
    (live / "commands.jsonl").unlink()
    (live / "commands.jsonl").symlink_to(tmp_path / "elsewhere")
    events = EventLog()
    log = RunLog(live, events)
    log.attach(Recorder())
    try:
        time.sleep(3 * HOUSEKEEPING)  # a few looks at the file
    finally:
        log.close()
    assert [e.message for e in events.of(ChannelProblem)] == [
        f"{live / 'commands.jsonl'} is a symbolic link: refused as the run's command channel (only a regular "
        "file of your own that no other user may open, mode 0600, carries commands)"]


def test_the_monitor_shows_a_channel_problem_in_its_message_bar():
    state = MonitorState(CONFIG)
    assert state.apply(ChannelProblem("runs/x/commands.jsonl is a symbolic link: refused")) == {"status"}
    assert state.message == "runs/x/commands.jsonl is a symbolic link: refused"


# ---- the lock's name: which process listens --------------------------------------------------------


def name_lock(run, content: bytes) -> None:
    fd = os.open(run / "lock", os.O_WRONLY)
    os.ftruncate(fd, 0)
    os.write(fd, content)
    os.close(fd)


@pytest.mark.parametrize("pid", [2**40, 0, -1, -5, "x", True, 2.5, None, [1], PID_MAX_LIMIT])
def test_a_lock_naming_an_impossible_pid_names_no_listener(live, pid):
    name_lock(live, json.dumps({"pid": pid, "host": os.uname().nodename}).encode())
    assert holder(live) == UNNAMED  # held, so live, but by no nameable process
    RemoteTrainer(live).pause()  # the lock, not the name, says someone listens
    assert AttachedSession(CONFIG, live).connection() == ("attached", True)


@pytest.mark.parametrize("pid", [2**40, 0, -1, "x"])
def test_a_stale_name_in_a_released_lock_means_nobody_listens(run, pid):
    RunLock(run).release()
    (run / "lock").write_text(json.dumps({"pid": pid, "host": os.uname().nodename}))
    assert holder(run) is None
    with pytest.raises(ControlError, match="ended or was killed"):
        RemoteTrainer(run).pause()


@pytest.mark.parametrize("content", [b"[" * 100_000, b"\xff" * 300, b'"pid"', b"[]", b'{"pid": 1' + b"0" * 5000 + b"}"],
                         ids=["nested", "not-utf8", "a-string", "a-list", "a-long-pid"])
def test_a_damaged_lock_name_is_read_only_in_part(live, content, monkeypatch):
    name_lock(live, content)
    sizes = []
    pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, offset: sizes.append(n) or pread(fd, n, offset))
    assert holder(live) == UNNAMED
    assert sizes == [MAX_NAME]


def test_pids_are_checked_against_the_systems_pid_max(monkeypatch):
    assert valid_pid(1) and valid_pid(os.getpid()) and valid_pid(pid_max() - 1)
    assert not any(valid_pid(p) for p in (0, -1, pid_max(), 2**40, True, 1.0, "1"))

    def no_proc(*args, **kwargs):
        raise FileNotFoundError("/proc/sys/kernel/pid_max")

    monkeypatch.setattr("engine.run_lock.open", no_proc, raising=False)  # shadows the builtin there only
    assert pid_max.__wrapped__() == PID_MAX_LIMIT  # not Linux: Linux's largest


def test_a_fifo_as_the_lock_file_blocks_nobody(run):
    (run / "lock").unlink(missing_ok=True)
    os.mkfifo(run / "lock", 0o600)
    assert finishes(lambda: holder(run)) is None
    open_fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        finishes(lambda: RunLock(run))
    assert len(os.listdir("/proc/self/fd")) == open_fds  # the lock was let go, not leaked


# ---- fuzz: no line stops the inbox -----------------------------------------------------------------

SIMPLE = ("pause", "resume", "step", "gradcheck", "evaluate", "checkpoint")
VALID_VALUES = {
    "lr": st.floats(1e-6, 100.0),
    "batch_size": st.integers(1, 65536),
    "optimizer": st.sampled_from(sorted(OPTIMIZERS)),
    "gradcheck_every": st.integers(0, 10_000_000),
    "insight_every": st.integers(0, 10_000_000),
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)
sent = st.one_of(  # what a sender writes
    st.sampled_from(SIMPLE).map(lambda name: {"command": name}),
    st.sampled_from(LIVE_SETTINGS).flatmap(
        lambda name: VALID_VALUES[name].map(lambda value: {"command": "set", "name": name, "value": value})))
near_misses = st.one_of(  # almost what a sender writes: any value, an extra or missing key, any command
    st.builds(lambda name, value: {"command": "set", "name": name, "value": value},
              st.sampled_from((*LIVE_SETTINGS, "seed")), json_values),
    st.builds(lambda command, key, value: {**command, key: value}, sent, st.sampled_from(("x", "name", "value")),
              json_values),
    st.builds(lambda command, value: {**command, "command": value}, sent, json_values),
    sent.map(lambda command: {k: v for k, v in command.items() if k != "value"}),
)
junk = st.one_of(  # lines that are no command: raw bytes, other JSON, nesting, over-long lines
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.integers(MAX_COMMAND + 1, 3 * MAX_COMMAND).map(lambda n: b"{" + b" " * n + b"}"),
)
lines_ = st.lists(st.one_of(sent.map(json.dumps).map(str.encode), near_misses.map(json.dumps).map(str.encode), junk),
                  max_size=10)


def expected_call(line: bytes) -> str | None:
    """The ScriptedTrainer call a line asks for, by the documented rule: an object of exactly a command's
    keys, `set` naming a live setting with a value checked_setting accepts; None for anything else."""
    try:
        command = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if len(line) > MAX_COMMAND or not isinstance(command, dict):
        return None
    name = command.get("command")
    if name in SIMPLE and command == {"command": name}:
        return name
    if name != "set" or sorted(command) != ["command", "name", "value"] or command["name"] not in LIVE_SETTINGS:
        return None
    try:
        checked_setting(TrainConfig(), command["name"], command["value"])
    except (ValueError, TypeError):
        return None
    return f"set {command['name']}"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


run_numbers = itertools.count()


@settings(derandomize=True, deadline=None, max_examples=fuzz_examples(250))  # about 1,250 lines
@given(lines=lines_, cuts=st.lists(st.integers(0, 4000), max_size=4))
def test_fuzz_random_lines_never_stop_the_inbox(fuzz_dir, lines, cuts):
    """Whatever the lines, and however they are cut by polls mid-write, poll() never raises, runs
    exactly the commands a sender could have written, in order, and says when it skipped any."""
    run = fuzz_dir / str(next(run_numbers))
    run.mkdir(mode=0o700)
    trainer, warnings = ScriptedTrainer(TOY, CONFIG), []
    inbox = CommandInbox(run, trainer, lambda i: run / f"ck-{i}.npz", warn=warnings.append)
    data = b"".join(line + b"\n" for line in lines)
    for start, end in itertools.pairwise([0, *sorted(c for c in cuts if c < len(data)), len(data)]):
        append(run / "commands.jsonl", data[start:end])
        inbox.poll()
    assert trainer.calls == [c for c in map(expected_call, lines) if c is not None]
    damaged = any(expected_call(line) is None and line.strip() for line in lines)
    assert bool(warnings) == damaged
    assert all("damaged record" in w for w in warnings)


def test_checked_command_accepts_what_remote_trainer_sends(live):
    remote = RemoteTrainer(live)
    remote.step()
    remote.set("lr", 0.05)
    remote.set("optimizer", "adam")
    remote.request_checkpoint()
    sent_lines = (live / "commands.jsonl").read_bytes().splitlines()
    assert [checked_command(line)["command"] for line in sent_lines] == ["step", "set", "set", "checkpoint"]
