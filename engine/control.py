"""A run's command channel: an attached monitor steers the process that trains the run.

<run>/commands.jsonl   one JSON command per line, appended by controllers; mode 0600, so only
                       the user who owns the run can steer it
<run>/control.json     the listening process ({"pid", "host"}); present only while one listens

A file rather than a socket: it works wherever the run directory does (a socket path
is limited to ~100 characters), survives restarts, and needs no cleanup after a kill
beyond the stale control.json, which the pid check recognises.
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from .atomic import write_bytes_atomic
from .config import TrainConfig

LIVE_CHECK = 1.0  # seconds a controller trusts its last look at control.json
COMMANDS = ("pause", "resume", "step", "set", "gradcheck", "evaluate", "checkpoint")
SETTINGS = ("lr", "batch_size", "optimizer", "gradcheck_every", "insight_every")  # what `set` may change


class ControlError(Exception):
    """The run cannot be steered: nothing listens, or the command file is not ours to write."""


class CommandInbox:
    """Runs the commands appended to <run>/commands.jsonl on `trainer` each time poll() is called.

    Only commands appended after it is made are run: older ones were meant for an earlier process.
    A malformed or unknown command is skipped: the sender validated it, so it is not ours.
    """

    def __init__(self, run_dir: Path, trainer, checkpoint_path: Callable[[int], Path]):
        self.run_dir = Path(run_dir)
        self.trainer = trainer
        self.checkpoint_path = checkpoint_path
        path = self.run_dir / "commands.jsonl"
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        os.chmod(path, 0o600)  # a file left by someone else's umask is narrowed too
        self.path = path
        self.offset = path.stat().st_size
        self.partial = b""
        write_bytes_atomic(self.run_dir / "control.json",
                           json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())

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
                if command.get("name") in SETTINGS:
                    getattr(t, f"set_{command['name']}")(command.get("value"))
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

    def close(self) -> None:
        """Stop listening: controllers see that nothing takes commands any more."""
        marker = self.run_dir / "control.json"
        try:
            if json.loads(marker.read_text()).get("pid") == os.getpid():
                marker.unlink()
        except (OSError, ValueError):
            pass


class RemoteTrainer:
    """The controls of a Trainer that another process runs, sent through the run's command file.

    Each control raises ControlError when no live process listens, and ValueError (as the
    Trainer's own) for a bad setting; the effect shows up in the run's event log.
    """

    state = "remote"  # never "idle": the other process started it

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._checked_at = -LIVE_CHECK
        self._listener: int | None = None

    def listener(self) -> int | None:
        """The pid of the process that takes commands, or None (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked_at >= LIVE_CHECK:
            self._checked_at = now
            self._listener = listener_pid(self.run_dir)
        return self._listener

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

    def request_checkpoint(self) -> None:
        self._send({"command": "checkpoint"})

    def set_lr(self, value: float) -> None:
        self._set("lr", value)

    def set_batch_size(self, value: int) -> None:
        self._set("batch_size", value)

    def set_optimizer(self, value: str) -> None:
        self._set("optimizer", value)

    def set_gradcheck_every(self, value: int) -> None:
        self._set("gradcheck_every", value)

    def set_insight_every(self, value: int) -> None:
        self._set("insight_every", value)

    def _set(self, name: str, value) -> None:
        TrainConfig().with_changes(**{name: value})  # the bounds do not depend on other settings
        self._send({"command": "set", "name": name, "value": value})

    def _send(self, command: dict) -> None:
        self._checked_at = -LIVE_CHECK  # look again: the trainer may have just ended
        if self.listener() is None:
            raise ControlError("no process is training this run now (it ended or was killed), so it takes "
                               f"no commands; continue it with: python -m engine train --resume {self.run_dir}")
        line = (json.dumps(command) + "\n").encode()
        try:
            fd = os.open(self.run_dir / "commands.jsonl", os.O_WRONLY | os.O_APPEND)
        except PermissionError:
            raise ControlError(f"{self.run_dir / 'commands.jsonl'} belongs to another user: "
                               "only the run's owner may steer it") from None
        except OSError as exc:
            raise ControlError(f"cannot send the command: {exc.strerror or exc}") from None
        try:
            os.write(fd, line)  # one short O_APPEND write: never interleaved with another sender's
        finally:
            os.close(fd)


def live_run_message(run_dir: Path, pid: int) -> str:
    """Why a run that a live process trains cannot be resumed (two writers would corrupt it)."""
    return (f"process {pid} is training {run_dir} now; watch or steer it with python -m tui --attach {run_dir}, "
            "or stop it first")


def listener_pid(run_dir: Path) -> int | None:
    """The pid of the live process that takes the run's commands, or None."""
    try:
        marker = json.loads((run_dir / "control.json").read_text())
        pid = int(marker["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if marker.get("host") != socket.gethostname():
        return pid  # another machine's process (a shared folder): it cannot be checked from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # killed without cleaning up
    except PermissionError:
        pass  # alive, but another user's
    return pid
