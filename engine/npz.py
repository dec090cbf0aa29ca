""".npz archives from outside, read within bounds: each member's header is read first (its shape and dtype,
without its data), so an archive claiming terabytes, holding objects, or not being an archive at all is
refused before anything is allocated. Only then are the arrays read, one by one, never unpickled.

The file is opened once: what the headers said is what is read, even if the path is replaced meanwhile."""
from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .files import open_regular

MAX_MEMBERS = 256
# What a damaged or hostile archive raises from zipfile, zlib or numpy (RuntimeError: an encrypted member;
# NotImplementedError: an unknown compression; ValueError: numpy's "EOF" on a short member).
DAMAGED = (zipfile.BadZipFile, EOFError, KeyError, RuntimeError, NotImplementedError, zlib.error, ValueError)

Headers = dict[str, tuple[tuple[int, ...], np.dtype]]


class NpzError(ValueError):
    """An archive that is not a bounded set of plain numeric arrays; the message says why."""


class Archive:
    """An open .npz whose members' headers have been read and checked (`headers`: name -> (shape, dtype));
    `read(name)` then reads one array. Each member must hold exactly the bytes its header implies.

    `stored_only`: refuse compressed members, so no array can be larger than the file itself.
    NpzError when the file is not an .npz of plain arrays; OSError when it cannot be read, or is a symlink,
    a FIFO or anything but a regular file (engine/files.py)."""

    def __init__(self, path: str | Path, stored_only: bool = False):
        self._file = open_regular(path)
        try:
            self.headers = self._open(stored_only)
        except BaseException:
            self._file.close()
            raise

    def _open(self, stored_only: bool) -> Headers:
        if self._file.read(4) != b"PK\x03\x04":  # np.load would take other files for .npy or pickle data
            raise NpzError("not an .npz archive")
        self._file.seek(0)
        try:
            self._zip = zipfile.ZipFile(self._file)
            return self._read_headers(stored_only)
        except NpzError:
            raise
        except DAMAGED as exc:
            raise NpzError(f"a damaged archive ({type(exc).__name__})") from None

    def _read_headers(self, stored_only: bool) -> Headers:
        members = self._zip.infolist()
        if len(members) > MAX_MEMBERS:
            raise NpzError(f"{len(members):,} members (at most {MAX_MEMBERS})")
        file_size = os.fstat(self._file.fileno()).st_size
        found: Headers = {}
        for member in members:
            name, shown = member.filename.removesuffix(".npy"), repr(member.filename[:60])  # repr escapes control characters
            if not member.filename.endswith(".npy"):
                raise NpzError(f"member {shown} is not an array")
            if name in found:  # zipfile would read the last of them, numpy list both
                raise NpzError(f"member {shown} appears twice")
            if stored_only and member.compress_type != zipfile.ZIP_STORED:
                raise NpzError(f"{shown}: compressed (refused: it could expand far beyond the file)")
            if member.compress_size > file_size:
                raise NpzError(f"{shown}: claims {member.compress_size:,} bytes; the file has {file_size:,}")
            with self._zip.open(member) as f:
                found[name] = _header(f, shown, member.file_size)
        return found

    def read(self, name: str) -> np.ndarray:
        """One array, as its header described it (NpzError when its data is damaged)."""
        try:
            with self._zip.open(f"{name}.npy") as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except DAMAGED as exc:
            raise NpzError(f"{name[:60]!r}: damaged data ({type(exc).__name__})") from None

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_npy_header(f, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """An .npy header's (shape, fortran_order, dtype), the file left at the data; NpzError if unreadable."""
    try:
        major, _ = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        return read(f)
    # numpy parses the header as a Python literal: deep nesting is a RecursionError, unbalanced brackets
    # a TokenError from its fallback parser
    except (ValueError, SyntaxError, TypeError, RecursionError, tokenize.TokenError):
        raise NpzError(f"{name}: not a readable array header") from None


def _header(f, name: str, member_size: int) -> tuple[tuple[int, ...], np.dtype]:
    shape, _, dtype = read_npy_header(f, name)
    if dtype.hasobject:
        raise NpzError(f"{name}: holds pickled objects; refused (loading them could run code)")
    if dtype.kind not in "biufcU":
        raise NpzError(f"{name}: holds {dtype} values, not plain numbers or text")
    claimed, held = nbytes(shape, dtype), member_size - f.tell()
    if any(d < 0 for d in shape) or claimed >= 2**63:
        raise NpzError(f"{name}: an impossible shape {str(shape)[:60]}")
    if claimed != held:  # an 8 TB shape over a few bytes is refused here, before any allocation
        raise NpzError(f"{name}: its header claims {claimed:,} bytes of data; the member holds {held:,}")
    return tuple(shape), dtype


def nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def headers(path: str | Path) -> Headers:
    """The shape and dtype of each array, from the members' headers alone. NpzError when the file is not
    an .npz of plain arrays (OSError when it cannot be read)."""
    with Archive(path) as archive:
        return archive.headers


def load(path: str | Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Every array of the archive, when their headers add up to at most `max_bytes`; NpzError otherwise."""
    with Archive(path) as archive:
        total = sum(nbytes(shape, dtype) for shape, dtype in archive.headers.values())
        if total > max_bytes:
            raise NpzError(f"its arrays claim {total:,} bytes (at most {max_bytes:,} expected)")
        return {name: archive.read(name) for name in archive.headers}
