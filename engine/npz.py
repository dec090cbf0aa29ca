""".npz archives from outside, read within bounds: each member's header is read first (its shape and dtype,
without its data), so an archive claiming terabytes, holding objects, or not being an archive at all is
refused before anything is allocated. Only then are the arrays loaded, with allow_pickle=False."""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

MAX_MEMBERS = 256


class NpzError(ValueError):
    """An archive that is not a bounded set of plain numeric arrays; the message says why."""


def headers(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype of each array, from the members' headers alone. NpzError when the file is not
    an .npz of plain arrays (OSError when it cannot be read)."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # np.load would take other files for .npy or pickle data
            raise NpzError("not an .npz archive")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise NpzError(f"{len(members):,} members (at most {MAX_MEMBERS})")
            found = {}
            for member in members:
                if not member.filename.endswith(".npy"):
                    raise NpzError(f"member {member.filename[:60]!r} is not an array")
                with archive.open(member) as f:
                    found[member.filename.removesuffix(".npy")] = _header(f, member.filename)
            return found
    except (zipfile.BadZipFile, EOFError, KeyError, RuntimeError) as exc:  # RuntimeError: encrypted member
        raise NpzError(f"a damaged archive ({type(exc).__name__})") from None


def _header(f, name: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        major, _ = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise NpzError(f"{name}: not a readable array header") from exc
    if dtype.hasobject or dtype.kind not in "biufcU":
        raise NpzError(f"{name}: holds {dtype} values, not plain numbers or text")
    return tuple(shape), dtype


def nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def load(path: str | Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Every array of the archive, when their headers add up to at most `max_bytes`; NpzError otherwise."""
    found = headers(path)
    total = sum(nbytes(shape, dtype) for shape, dtype in found.values())
    if total > max_bytes:
        raise NpzError(f"its arrays claim {total:,} bytes (at most {max_bytes:,} expected)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as exc:
        raise NpzError(f"a damaged archive ({type(exc).__name__})") from None
