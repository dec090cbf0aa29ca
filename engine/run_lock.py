"""One lock per run: the process that trains a run holds an exclusive flock on <run>/lock for its whole life.

The kernel releases a flock when its holder ends, however it ends (a kill -9 included), so "is this
run live?" is a question to the lock, never to a clock or to a pid that may have been reused. The
file also names the holder (pid and host) for messages; that text is informative only.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import shlex
import socket
from pathlib import Path

LOCK_FILE = "lock"
UNNAMED = -1  # holder(): the lock is held, by a process that has not written its name yet (or not a valid one)
PID_MAX_LIMIT = 2**22  # Linux's largest pid_max: the bound when this system's cannot be read
MAX_NAME = 200  # bytes of the lock file read: its name is about 50


class RunBusy(Exception):
    """Another live process trains this run."""

    def __init__(self, run_dir: Path, pid: int | None):
        who = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"{who} is training {run_dir} now; watch or steer it with python -m tui --attach "
                         f"{shlex.quote(str(run_dir))}, or stop it first")
        self.pid = pid


class RunLock:
    """Holds <run>/lock exclusively until release() or the end of the process; raises RunBusy if taken."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._fd: int | None = _open(self.run_dir, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(self._fd)
            os.close(self._fd)
            self._fd = None
            raise RunBusy(self.run_dir, pid) from None
        except OSError:
            os.close(self._fd)
            raise
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
        except OSError:  # not a regular file (a FIFO), or the disk refuses: let the lock go, say why
            self.release()
            raise

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # no name left behind for a later contender to quote
            except OSError:
                pass
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def holder(run_dir: str | Path) -> int | None:
    """The pid of the live process that holds the run's lock (UNNAMED if it cannot be named); None when none does."""
    try:
        fd = _open(Path(run_dir), os.O_RDONLY)
    except OSError:
        return None  # no lock file: nothing has trained it since locks came in, or not a run
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder_pid(fd)
        return UNNAMED if pid is None else pid
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the shared lock just taken
    return None


def _open(run_dir: Path, flags: int) -> int:
    # Not through a symlink someone else put there, nor blocking on a FIFO; owner-only like every file of a run.
    return os.open(run_dir / LOCK_FILE, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)


@functools.cache
def pid_max() -> int:
    """This system's pid_max: pids go from 1 to pid_max - 1."""
    try:
        with open("/proc/sys/kernel/pid_max", "rb") as f:
            return int(f.read(32))
    except (OSError, ValueError):  # not Linux, or no /proc
        return PID_MAX_LIMIT


def valid_pid(value) -> bool:
    """Whether `value` (read from a file) can be a process's pid: never 0 or -1 (kill() takes them for
    process groups) nor pid_max or more (no such process; 2**40 would overflow kill())."""
    return type(value) is int and 1 <= value < pid_max()


def _holder_pid(fd: int) -> int | None:
    """The pid the lock file names, if it is a live process here (a killed holder's name stays behind)."""
    try:
        named = json.loads(os.pread(fd, MAX_NAME, 0))
        pid, host = named["pid"], named.get("host")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # not yet written by a holder that has just taken the lock, or damaged
    if not valid_pid(pid):
        return None
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
    return pid
