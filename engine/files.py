"""Opening files from a run directory or a data folder that may not be ours: a symlink is refused, never
followed, and a FIFO or a device is refused at once, never blocked on."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for reading in binary; OSError when it is missing, a symlink (ELOOP), or not a
    regular file (EINVAL), as when it cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
