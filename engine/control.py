"""A run's command channel: an attached monitor steers the process that trains the run.

<run>/commands.jsonl   one JSON command per line, appended by controllers; mode 0600, so only
                       the user who owns the run can steer it
Whoever holds the run's lock (engine/run_lock.py) trains it and takes its commands.

A file rather than a socket: it works wherever the run directory does (a socket path
is limited to ~100 characters), survives restarts, and needs no cleanup after a kill.

Both ends trust the file only when it is a regular file of their own user that no other user may
open: never through a symlink (someone else's file would be written or chmodded), never a FIFO
(opening it would block) and never a file another user could have written commands into.
Every line is checked as the sender checks it, so no line can stop the listener.
"""
from __future__ import annotations

import errno
import json
import os
import shlex
import stat
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .config import ConfigError, TrainConfig
from .controls import LIVE_SETTINGS, CheckpointPath, RunState, checked_setting
from .records import DamagedRecord, Skipped, json_line, lines, plain
from .run_lock import holder

COMMANDS_FILE = "commands.jsonl"
COMMANDS = ("pause", "resume", "step", "set", "gradcheck", "evaluate", "checkpoint")
ARGUMENTS = {"set": ("name", "value")}  # the other commands take none
MAX_COMMAND = 1 << 10  # bytes: the longest command the sender writes is under 100
MAX_REASON = 200  # characters of a refused value or a trainer's error quoted in a warning
TRUSTED = ("refused as the run's command channel (only a regular file of your own that no other user may open, "
           "mode 0600, carries commands)")


class ControlError(Exception):
    """The run cannot be steered: nothing listens, or the command file is not ours to write."""


class MalformedCommand(ValueError):
    """A line of the command file that is not a command the sender writes."""


class CommandChannelWarning(UserWarning):
    """The command file was refused, or lines of it were skipped, or a command failed; the run goes on."""


def file_problem(st: os.stat_result) -> str | None:
    """Why the opened command file may not be trusted, or None when it may."""
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def open_commands(run_dir: Path, flags: int) -> int:
    """A descriptor of the run's command file; ControlError, saying why, when it is not one to trust.

    O_NOFOLLOW: a symlink is refused, never followed (nor its target created); O_NONBLOCK: a FIFO
    is refused at once instead of blocking until someone opens its other end.
    """
    path = Path(run_dir) / COMMANDS_FILE
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        problem = {errno.ELOOP: "is a symbolic link", errno.ENXIO: "is not a regular file"}.get(exc.errno)
        if problem is None:  # missing (for a sender), forbidden, a directory...: the system says it best
            raise ControlError(f"{path}: cannot be opened: {exc.strerror or exc}") from None
        raise ControlError(f"{path} {problem}: {TRUSTED}") from None
    problem = file_problem(os.fstat(fd))
    if problem is not None:
        os.close(fd)
        raise ControlError(f"{path} {problem}: {TRUSTED}")
    return fd


def checked_command(line: bytes | None) -> dict:
    """The command a line holds (None: a line too long to read), checked as the sender checks it;
    MalformedCommand saying what is wrong otherwise."""
    if line is None:
        raise MalformedCommand(f"a line of over {MAX_COMMAND:,} bytes")
    try:
        command = json_line(line)
    except DamagedRecord as exc:
        raise MalformedCommand(str(exc)) from None
    if not isinstance(command, dict) or command.get("command") not in COMMANDS:
        raise MalformedCommand(f"not an object whose command is one of {', '.join(COMMANDS)}")
    name = command["command"]
    arguments = ARGUMENTS.get(name, ())
    if sorted(command) != sorted(("command", *arguments)):
        raise MalformedCommand(f"{name} takes {' and '.join(arguments) or 'no arguments'}, nothing else")
    if name == "set":
        _check_setting(command["name"], command["value"])
    return command


def _check_setting(name, value) -> None:
    if name not in LIVE_SETTINGS:
        raise MalformedCommand(f"set: {plain(repr(name))[:MAX_REASON]} is not one of {', '.join(LIVE_SETTINGS)}")
    if type(value) not in (str, int, float):  # no lists or objects: every live setting is one scalar
        raise MalformedCommand(f"set {name}: the value is not a number or a name")
    try:
        checked_setting(TrainConfig(), name, value)  # the bounds do not depend on other settings
    except (ConfigError, TypeError) as exc:
        raise MalformedCommand(f"set {name}: {plain(str(exc))[:MAX_REASON]}") from None


def _warn(message: str) -> None:
    warnings.warn(message, CommandChannelWarning, stacklevel=3)


class CommandInbox:
    """Runs the commands appended to <run>/commands.jsonl on `trainer` each time poll() is called.

    Only commands appended from `offset` on are run (by default, from now): older ones were meant
    for an earlier process. `checkpoint_path(iteration)` names a checkpoint asked for through the channel.
    Nothing in the file stops the listener: a refused file, a skipped line or a command the trainer
    refuses is told to `warn` (a refused file once, until the reason changes) and the channel goes on.
    """

    def __init__(self, run_dir: Path, trainer, checkpoint_path: Callable[[int], Path], offset: int | None = None,
                 warn: Callable[[str], None] = _warn):
        self.run_dir = Path(run_dir)
        self.trainer = trainer
        self.checkpoint_path = checkpoint_path
        self.warn = warn
        self.path = self.run_dir / COMMANDS_FILE
        self.offset = offset  # None: from the file's end when it is first accepted
        self.skipping = False  # the rest of an over-long line is still to come: skip it too
        self.trouble: str | None = None  # why the file was refused or unreadable at the last look, already said
        fd = self._open()  # creates the file, and says at once when it is refused
        if fd is not None:
            self._clamp_offset(fd)
            os.close(fd)

    def poll(self) -> None:
        """Run the commands appended since the last poll; never raises."""
        skipped = Skipped()
        for where, line in self._new_lines():
            try:
                command = checked_command(line)
            except MalformedCommand as exc:
                skipped.add(where, str(exc))
                continue
            self.run(command)
        if skipped.count:
            self.warn(f"{self.path}: {skipped}")

    def run(self, command: dict) -> None:
        """Run one checked command; whatever the trainer raises is told to `warn`."""
        t, name = self.trainer, command["command"]
        try:
            if name == "set":
                t.set(command["name"], command["value"])
            elif name == "checkpoint":
                t.request_checkpoint(self.checkpoint_path)
            elif name == "gradcheck":
                t.request_gradcheck()
            elif name == "evaluate":
                t.request_evaluation()
            else:
                getattr(t, name)()
        except Exception as exc:  # noqa: BLE001 - of any type (a setting the current config refuses...): go on
            self.warn(f"{self.path}: the command {name} failed: {plain(str(exc))[:MAX_REASON]}")

    def _new_lines(self) -> Iterator[tuple[str, bytes | None]]:
        """(where, line) for each whole line appended since the last look; None for an over-long line."""
        fd = self._open()
        if fd is None:
            return
        try:
            with os.fdopen(fd, "rb") as f:
                self._clamp_offset(fd)
                f.seek(self.offset)
                for line, whole in lines(f, MAX_COMMAND):
                    if self.skipping:  # the end of an over-long line
                        self.offset, self.skipping = f.tell(), not whole
                        continue
                    if line is not None and not whole:
                        break  # still being written: read again at the next look
                    where, self.offset = f"byte {self.offset}", f.tell()
                    self.skipping = not whole  # over-long and unfinished: its rest is skipped when it comes
                    if line is None or line.strip():
                        yield where, line
        except OSError as exc:  # a failing disk: the next look tries again
            self._trouble(f"{self.path}: cannot be read: {exc.strerror or exc}")
        else:
            self.trouble = None

    def _open(self) -> int | None:
        """The command file, created if need be; None when it is refused (said once per reason)."""
        try:
            fd = open_commands(self.run_dir, os.O_RDONLY | os.O_CREAT)
        except ControlError as exc:
            self._trouble(str(exc))
            return None
        return fd

    def _trouble(self, message: str) -> None:
        # Said once: the file is looked at five times a second and stays refused until someone fixes it.
        if message != self.trouble:
            self.trouble = message
            self.warn(message)

    def _clamp_offset(self, fd: int) -> None:
        # From the end when nothing was read yet, or when the file was cut shorter than what was read.
        size = os.fstat(fd).st_size
        if self.offset is None or self.offset > size:
            self.offset, self.skipping = size, False


def commands_size(run_dir: Path) -> int | None:
    """The command file's length now, creating it (owner-only) if need be: commands after this are new.

    None when the file is refused (see open_commands); the inbox says why.
    """
    try:
        fd = open_commands(run_dir, os.O_RDONLY | os.O_CREAT)
    except ControlError:
        return None
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


class RemoteTrainer:
    """The controls of a Trainer that another process runs, sent through the run's command file.

    Each control raises ControlError when no live process listens, and ValueError (as the
    Trainer's own) for a bad setting; the effect shows up in the run's event log.
    """

    state = RunState.REMOTE  # never IDLE: the other process started it

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def listener(self) -> int | None:
        """The pid of the process that trains the run and takes its commands (its lock's holder), or None."""
        return holder(self.run_dir)

    def pause(self) -> None:
        self._send({"command": "pause"})

    def resume(self) -> None:
        self._send({"command": "resume"})

    def step(self) -> None:
        self._send({"command": "step"})

    def request_gradcheck(self) -> None:
        self._send({"command": "gradcheck"})

    def request_evaluation(self) -> None:
        self._send({"command": "evaluate"})

    def request_checkpoint(self, path: CheckpointPath | None = None) -> None:
        """Ask the training process for a manual checkpoint; it names the file (see Controls)."""
        if path is not None:
            raise ValueError("the process that trains the run names its checkpoints: send no path")
        self._send({"command": "checkpoint"})

    def set(self, name: str, value) -> None:
        checked_setting(TrainConfig(), name, value)  # the bounds do not depend on other settings
        self._send({"command": "set", "name": name, "value": value})

    def _send(self, command: dict) -> None:
        if self.listener() is None:
            raise ControlError("no process is training this run now (it ended or was killed), so it takes "
                               f"no commands; continue it with: python -m engine train --resume {shlex.quote(str(self.run_dir))}")
        line = (json.dumps(command) + "\n").encode()
        fd = open_commands(self.run_dir, os.O_WRONLY | os.O_APPEND)  # ControlError when not ours to trust
        try:
            os.write(fd, line)  # one short O_APPEND write: never interleaved with another sender's
        except OSError as exc:
            raise ControlError(f"cannot send the command: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
