"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A reader sees either the old file or the complete new one, never a partial
write, even if the process is killed mid-write.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
