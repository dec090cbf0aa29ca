"""A run's command channel: an attached monitor steers the process that trains the run.

<run>/commands.jsonl   one JSON command per line, appended by controllers; mode 0600, so only
                       the user who owns the run can steer it
Whoever holds the run's lock (engine/run_lock.py) trains it and takes its commands.

A file rather than a socket: it works wherever the run directory does (a socket path
is limited to ~100 characters), survives restarts, and needs no cleanup after a kill.
"""
from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from .config import TrainConfig
from .controls import CheckpointPath, RunState, checked_setting
from .run_lock import holder

COMMANDS_FILE = "commands.jsonl"
COMMANDS = ("pause", "resume", "step", "set", "gradcheck", "evaluate", "checkpoint")


class ControlError(Exception):
    """The run cannot be steered: nothing listens, or the command file is not ours to write."""


class CommandInbox:
    """Runs the commands appended to <run>/commands.jsonl on `trainer` each time poll() is called.

    Only commands appended from `offset` on are run (by default, from now): older ones were meant
    for an earlier process. A malformed or unknown command is skipped: the sender validated it.
    `checkpoint_path(iteration)` names a checkpoint asked for through the channel.
    """

    def __init__(self, run_dir: Path, trainer, checkpoint_path: Callable[[int], Path], offset: int | None = None):
        self.run_dir = Path(run_dir)
        self.trainer = trainer
        self.checkpoint_path = checkpoint_path
        self.path = self.run_dir / COMMANDS_FILE
        size = commands_size(self.run_dir)
        self.offset = size if offset is None or offset > size else offset
        self.partial = b""

    def poll(self) -> None:
        for command in self.read():
            self.run(command)

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        commands = []
        for line in lines:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            if isinstance(command, dict) and command.get("command") in COMMANDS:
                commands.append(command)
        return commands

    def run(self, command: dict) -> None:
        t = self.trainer
        name = command.get("command")
        try:
            if name == "set":
                t.set(command.get("name"), command.get("value"))
            elif name == "checkpoint":
                t.request_checkpoint(self.checkpoint_path)
            elif name == "gradcheck":
                t.request_gradcheck()
            elif name == "evaluate":
                t.request_evaluation()
            else:
                getattr(t, name)()
        except Exception:  # noqa: BLE001 - a value the trainer refuses, of any type: the channel must go on
            pass  # (the controller checks values first, so this is a stale or hand-written command)


def commands_size(run_dir: Path) -> int:
    """The command file's length now, creating it (owner-only) if need be: commands after this are new."""
    fd = os.open(Path(run_dir) / COMMANDS_FILE, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a file left by someone else's umask is narrowed too
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
        try:
            fd = os.open(self.run_dir / COMMANDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        except PermissionError:
            raise ControlError(f"{self.run_dir / 'commands.jsonl'} belongs to another user: "
                               "only the run's owner may steer it") from None
        except OSError as exc:
            raise ControlError(f"cannot send the command: {exc.strerror or exc}") from None
        try:
            os.write(fd, line)  # one short O_APPEND write: never interleaved with another sender's
        finally:
            os.close(fd)

