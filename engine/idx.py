"""Reading and writing IDX files (the MNIST format), plain or gzip-compressed.

An IDX file is a 4-byte magic (0, 0, type code, number of dimensions), one
big-endian uint32 per dimension, then the values. We only accept unsigned
bytes (type 0x08): labels (0x801, 1 dimension) and images (0x803, 3 dimensions).

The header is read first and bounds everything after it: a shape beyond MAX_ITEMS items of
MAX_SIDE x MAX_SIDE pixels (MAX_PAYLOAD in all), or beyond what the file could hold, is refused
before anything is allocated; then exactly the announced payload is decompressed, a chunk at a
time, and one byte more is refused as trailing data. So a gzip bomb costs at most the size its
header claims (itself bounded), never what the stream would expand to.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .atomic import write_bytes_atomic

LABELS_MAGIC = 0x0801
IMAGES_MAGIC = 0x0803
# What a header may claim. MNIST, Fashion-MNIST and KMNIST have 60,000 images of 28x28 (47 MB); these
# bounds admit sets five times that (EMNIST's digits, 240,000 images: 188 MB) and refuse a header that
# would have a file of a megabyte or two cost more: a gzip bomb costs at most 256 MiB and a few seconds.
MAX_ITEMS = 1_000_000
MAX_SIDE = 512  # rows, and columns, of an image
MAX_PAYLOAD = 256 << 20  # bytes of values
CHUNK = 1 << 16  # bytes read at a time: the gzip reader holds two or three copies of one beside the array
MAX_DEFLATE_RATIO = 1100  # deflate cannot expand a byte into more than ~1032, so a .gz holds at most this much
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """A file that is not the IDX data it should be; the message names the file."""


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or not) into a uint8 array, validating header and length."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if f.read(2) != GZIP_MAGIC:
                f.seek(0)
                return _read_stream(f, str(path), expect_magic, size)
            f.seek(0)
            with gzip.GzipFile(fileobj=f) as gz:
                return _read_stream(gz, str(path), expect_magic, size * MAX_DEFLATE_RATIO)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxError(f"{path}: corrupt gzip data ({exc or 'the stream ends early'})") from None
    except OSError as exc:
        raise IdxError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_idx(raw: bytes, name: str, expect_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes already in memory (uncompressed)."""
    return _read_stream(io.BytesIO(raw), name, expect_magic, len(raw))


def _read_stream(stream: BinaryIO, name: str, expect_magic: int | None, max_bytes: int) -> np.ndarray:
    """Read header, then exactly the payload it announces; `max_bytes` bounds what the source can hold."""
    head = _read_exactly(stream, 4)
    if len(head) < 4:
        raise IdxError(f"{name}: {len(head)} bytes is too short for an IDX header")
    magic = struct.unpack(">I", head)[0]
    if magic not in (LABELS_MAGIC, IMAGES_MAGIC):
        raise IdxError(f"{name}: magic number 0x{magic:08x} is not IDX labels (0x00000801) or images (0x00000803)")
    if expect_magic is not None and magic != expect_magic:
        kind = "labels" if expect_magic == LABELS_MAGIC else "images"
        raise IdxError(f"{name}: expected IDX {kind} (magic 0x{expect_magic:08x}), found magic 0x{magic:08x}")
    ndim = magic & 0xFF
    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise IdxError(f"{name}: header needs {4 + 4 * ndim} bytes, file has {4 + len(dims_raw)}")
    dims = struct.unpack(f">{ndim}I", dims_raw)
    header = 4 + 4 * ndim
    expected = header + math.prod(dims)
    shape = "x".join(map(str, dims))
    if expected > max_bytes:
        raise IdxError(f"{name}: header {shape} needs {expected} bytes, more than this file can hold")
    if not plausible_shape(dims):
        raise IdxError(f"{name}: header {shape} is not a shape any dataset has (at most {MAX_ITEMS:,} items"
                       f" of at most {MAX_SIDE}x{MAX_SIDE} pixels, {MAX_PAYLOAD >> 20} MiB in all)")
    try:
        values = np.empty(dims, dtype=np.uint8)  # pages are only touched as data arrives
    except MemoryError:
        raise IdxError(f"{name}: header {shape} needs {expected} bytes, more memory than is free") from None
    got = _fill(stream, values.reshape(-1))
    if got < values.size:
        raise IdxError(f"{name}: header {shape} needs {expected} bytes, found {header + got} (truncated)")
    if stream.read(1):  # one byte is enough to know, however much follows (a bomb's gigabytes of zeros)
        raise IdxError(f"{name}: header {shape} needs {expected} bytes, found more (trailing data)")
    return values


def plausible_shape(dims: tuple[int, ...]) -> bool:
    """Within the bounds any dataset we read could have (labels: 1 dimension, images: 3)."""
    items, *sides = dims
    return (items <= MAX_ITEMS and all(1 <= side <= MAX_SIDE for side in sides)
            and math.prod(dims) <= MAX_PAYLOAD)


def _fill(stream: BinaryIO, flat: np.ndarray) -> int:
    """Read into `flat` a chunk at a time until it is full or the stream ends; return the bytes read.

    A chunk at a time because GzipFile.readinto reads the whole request into a temporary first.
    """
    view = memoryview(flat)
    got = 0
    while got < len(view):
        more = stream.readinto(view[got:got + CHUNK])
        if not more:
            break
        got += more
    return got


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array (1-D labels or 3-D images) as IDX, gzip-compressed if the name ends in .gz."""
    if np.ndim(array) not in (1, 3):
        raise ValueError(f"IDX labels are 1-D and images 3-D; got shape {np.shape(array)}")
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + array.tobytes()
    path = Path(path)
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    write_bytes_atomic(path, payload)
