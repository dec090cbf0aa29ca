"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A reader sees either the old file or the complete new one, never a partial
write, even if the process is killed mid-write.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# The temp files write_with makes: "." + the target's name + "." + mkstemp's 8 random characters + ".tmp".
TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")


def write_with(path: str | os.PathLike, writer: Callable[[BinaryIO], None]) -> None:
    """Call writer(file) on a temp file next to `path`, then fsync and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def remove_stale_temp_files(folder: str | os.PathLike, target: re.Pattern[str]) -> None:
    """Delete the temp files that a write_with killed mid-write left in `folder`, for targets whose names
    `target` matches. Only regular files named as write_with names them, never symlinks, never through a
    `folder` that is a symlink; call it only where no write_with can be running (a run's lock holder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                ours = (m := TEMP_NAME.fullmatch(entry.name)) and target.fullmatch(m["target"])
                if ours and entry.is_file(follow_symlinks=False):
                    try:
                        os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        pass  # gone already, or not ours to delete: it only takes space
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    write_with(path, lambda f: f.write(data))


def fsync_directory(folder: str | os.PathLike) -> None:
    """Make a rename in `folder` durable (skipped where a directory cannot be opened or synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
