"""Reading and writing IDX files (the MNIST format), plain or gzip-compressed.

An IDX file is a 4-byte magic (0, 0, type code, number of dimensions), one
big-endian uint32 per dimension, then the values. We only accept unsigned
bytes (type 0x08): labels (0x801, 1 dimension) and images (0x803, 3 dimensions).
Nothing is allocated beyond what the header and the file size justify.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .atomic import write_bytes_atomic

LABELS_MAGIC = 0x0801
IMAGES_MAGIC = 0x0803
MAX_RAW_BYTES = 1 << 31  # 2 GiB: far above any MNIST-family file; refuses absurd headers


class IdxError(ValueError):
    """A file that is not the IDX data it should be; the message names the file."""


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or not) into a uint8 array, validating header and length."""
    path = Path(path)
    try:
        raw = _read_bytes(path)
    except OSError as exc:
        raise IdxError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_idx(raw, str(path), expect_magic)


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head != b"\x1f\x8b":
            return f.read(MAX_RAW_BYTES + 1)
        try:
            # Bounded read: a gzip bomb cannot make us allocate more than the cap.
            with gzip.GzipFile(fileobj=f) as gz:
                return gz.read(MAX_RAW_BYTES + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise IdxError(f"{path}: corrupt gzip data ({exc or 'stream ends early'})") from None


def parse_idx(raw: bytes, name: str, expect_magic: int | None = None) -> np.ndarray:
    if len(raw) > MAX_RAW_BYTES:
        raise IdxError(f"{name}: larger than {MAX_RAW_BYTES} bytes; not an MNIST-family file")
    if len(raw) < 4:
        raise IdxError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic not in (LABELS_MAGIC, IMAGES_MAGIC):
        raise IdxError(f"{name}: magic number 0x{magic:08x} is not IDX labels (0x00000801) or images (0x00000803)")
    if expect_magic is not None and magic != expect_magic:
        kind = "labels" if expect_magic == LABELS_MAGIC else "images"
        raise IdxError(f"{name}: expected IDX {kind} (magic 0x{expect_magic:08x}), found magic 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{name}: header needs {header} bytes, file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=object))
    if len(raw) != expected:
        raise IdxError(
            f"{name}: header {'x'.join(map(str, dims))} needs {expected} bytes, found {len(raw)}"
            + (" (truncated)" if len(raw) < expected else " (trailing data)")
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array (1-D labels or 3-D images) as IDX, gzip-compressed if the name ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim not in (1, 3):
        raise ValueError(f"IDX labels are 1-D and images 3-D; got shape {array.shape}")
    payload = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + array.tobytes()
    path = Path(path)
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    write_bytes_atomic(path, payload)
