"""TensorBoard event files, written and read without TensorFlow, tensorboard or protobuf.

An event file is a sequence of TFRecords: an 8-byte little-endian length, the masked CRC32C of those 8
bytes, the data, the masked CRC32C of the data. Each record's data is an `Event` protocol buffer; the few
messages and fields used here (tensorflow/core/util/event.proto, framework/summary.proto) are encoded and
decoded by hand below, with their field numbers.

Reading trusts no file: a record longer than MAX_RECORD or whose CRC does not match is skipped and counted,
and the reader finds the next intact record header (a damaged length cannot be followed); a record still
being written waits for the next poll. A file that did not change since the last poll is not opened.
Only scalars are read back (simple_value, or a scalar tensor as TF2's tf.summary and newer PyTorch
write them); histograms and images are passed over.
"""
from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .files import open_regular
from .records import Skipped

MAX_RECORD = 16 << 20  # a scalar event is ~50 bytes and an image a few KB: longer is damage
READ_LIMIT = 4 << 20  # bytes read per poll of a file, so a long log is caught up in steps
HEADER = 12


def _crc_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli's polynomial, reflected
        table.append(crc)
    return tuple(table)


CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's mask: a CRC of data that holds CRCs is itself no weaker."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord holding `data`."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


# --- protocol buffers: the wire format, encoding ---------------------------------------------------------

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5
ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))


def _varint(n: int) -> bytes:
    if 0 <= n < 0x80:  # one byte: field keys and short lengths, most of an event (a third of an export's time)
        return ONE_BYTE[n]
    n &= (1 << 64) - 1  # negative int64s take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def varint_field(number: int, value: int) -> bytes:
    return _key(number, VARINT) + _varint(value)


def double_field(number: int, value: float) -> bytes:
    return _key(number, FIXED64) + struct.pack("<d", value)


def float_field(number: int, value: float) -> bytes:
    return _key(number, FIXED32) + struct.pack("<f", value)


def bytes_field(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(number, BYTES) + _varint(len(data)) + data


def packed_doubles(number: int, values) -> bytes:
    return bytes_field(number, struct.pack(f"<{len(values)}d", *values))


# Event: wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5 (Summary { value 1 }).
# Summary.Value: tag 1, simple_value 2 (float), image 4, histo 5, tensor 8, metadata 9.

def event(step: int, wall_time: float, values: list[bytes] = (), file_version: str | None = None) -> bytes:
    """An Event's bytes: the file's version header when `file_version`, else a Summary of `values`."""
    data = double_field(1, wall_time) + varint_field(2, step)
    if file_version is not None:
        return data + bytes_field(3, file_version)
    return data + bytes_field(5, b"".join(bytes_field(1, value) for value in values))


def scalar(tag: str, value: float) -> bytes:
    """A Summary.Value holding a float32 simple_value, as TensorBoard's scalar dashboard reads it."""
    return bytes_field(1, tag) + float_field(2, value)


def histogram(tag: str, edges, counts, total: float, squares: float) -> bytes:
    """A Summary.Value holding a HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6
    (each bucket's right edge), bucket 7 (its count). `total` and `squares`: the values' sum and sum of squares."""
    histo = (double_field(1, edges[0]) + double_field(2, edges[-1]) + double_field(3, float(sum(counts)))
             + double_field(4, total) + double_field(5, squares)
             + packed_doubles(6, [float(e) for e in edges[1:]]) + packed_doubles(7, [float(c) for c in counts]))
    return bytes_field(1, tag) + bytes_field(5, histo)


def image(tag: str, pixels) -> bytes:
    """A Summary.Value holding an Image (height 1, width 2, colorspace 3, encoded_image_string 4) of a 2-D
    uint8 array, as PNG."""
    height, width = pixels.shape
    picture = varint_field(1, height) + varint_field(2, width) + varint_field(3, 1) + bytes_field(4, png(pixels))
    return bytes_field(1, tag) + bytes_field(4, picture)


def png(pixels) -> bytes:
    """A grayscale 8-bit PNG of a 2-D uint8 array."""
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(row) for row in pixels.astype("uint8"))  # filter 0 on each row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


# --- protocol buffers: decoding ----------------------------------------------------------------------------

class Malformed(ValueError):
    """Bytes that are not the message they should be."""


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    if at < len(data) and data[at] < 0x80:  # one byte: most keys and lengths
        return data[at], at + 1
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise Malformed("a cut or overlong varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field: an int for varints, the raw bytes otherwise."""
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, at = _read_varint(data, at)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            value, at = data[at:at + size], at + size
        elif wire == BYTES:
            size, at = _read_varint(data, at)
            value, at = data[at:at + size], at + size
        else:  # groups (3, 4) are not in these messages; 6 and 7 are not wire types
            raise Malformed(f"wire type {wire}")
        if at > len(data):
            raise Malformed("a field runs past its message")
        yield number, wire, value


@dataclass(frozen=True)
class Scalars:
    """What one Event says: its step and time, and the scalars its summary holds (tag, value)."""

    step: int
    wall_time: float
    values: list[tuple[str, float]] = field(default_factory=list)


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# A scalar tensor's DataType: how tensor_content packs its number, and which *_val field lists it.
TENSOR_DTYPES = {1: ("<f", 5), 2: ("<d", 6), 3: ("<i", 7), 9: ("<q", 10), 19: ("<e", 13)}  # FLOAT DOUBLE INT32 INT64 HALF


def _tensor_scalar(data: bytes) -> float | None:
    """The number in a TensorProto (dtype 1, tensor_shape 2, tensor_content 4, float_val 5, double_val 6,
    int_val 7, int64_val 10, half_val 13) holding one; None when it holds anything else (a string, an
    image, many numbers)."""
    dtype, by_field = None, {}
    for number, wire, value in fields(data):
        if number == 1 and wire == VARINT:
            dtype = value
        elif number == 2 and wire == BYTES and any(n == 2 for n, _, _ in fields(value)):
            return None  # the shape has a dimension
        else:
            by_field.setdefault(number, []).append((wire, value))
    if dtype not in TENSOR_DTYPES:
        return None
    code, list_field = TENSOR_DTYPES[dtype]
    numbers = []
    for _, value in by_field.get(4, []):  # tensor_content: the raw little-endian numbers
        if len(value) % struct.calcsize(code) == 0:
            numbers += [n for (n,) in struct.iter_unpack(code, value)]
    for wire, value in by_field.get(list_field, []):
        if list_field in (5, 6):  # floats and doubles: fixed width, one or packed
            width = "<f" if list_field == 5 else "<d"
            if len(value) % struct.calcsize(width) == 0:
                numbers += [n for (n,) in struct.iter_unpack(width, value)]
        elif wire == VARINT:
            numbers.append(value)
        elif wire == BYTES:  # packed varints
            at = 0
            while at < len(value):
                n, at = _read_varint(value, at)
                numbers.append(n)
    if len(numbers) != 1:
        return None
    (number,) = numbers
    if dtype == 19 and list_field == 13 and isinstance(number, int):  # half_val holds the bits
        (number,) = struct.unpack("<e", struct.pack("<H", number & 0xFFFF))
    return float(_int64(number) if isinstance(number, int) else number)


def decode_scalars(data: bytes) -> Scalars:
    """An Event's step, time and scalars; Malformed when the bytes are not an Event."""
    step, wall_time, values = 0, 0.0, []
    for number, wire, value in fields(data):
        if number == 1 and wire == FIXED64:
            (wall_time,) = struct.unpack("<d", value)
        elif number == 2 and wire == VARINT:
            step = _int64(value)
        elif number == 5 and wire == BYTES:
            for n, w, item in fields(value):
                if n == 1 and w == BYTES and (found := _summary_scalar(item)) is not None:
                    values.append(found)
    return Scalars(step, wall_time, values)


def _summary_scalar(data: bytes) -> tuple[str, float] | None:
    tag, number_found = None, None
    for number, wire, value in fields(data):
        if number == 1 and wire == BYTES:
            tag = value.decode("utf-8", "replace")
        elif number == 2 and wire == FIXED32:
            (number_found,) = struct.unpack("<f", value)
        elif number == 8 and wire == BYTES:
            number_found = _tensor_scalar(value)
    if tag is None or number_found is None:
        return None
    return tag, float(number_found)


# --- reading files as they grow ----------------------------------------------------------------------------

def is_event_file(name: str) -> bool:
    return "tfevents" in name and not name.startswith(".")


class RecordReader:
    """The records another process appends to one event file, as they come (see the module's docstring)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0  # of the next record's header
        self.inode: int | None = None
        self.skipped = Skipped()
        self.resyncing = False  # inside a damaged stretch: one skip counted for all of it
        self.more = False  # the last poll stopped at READ_LIMIT: there is more to read now
        self.stamp: tuple | None = None  # (inode, size, mtime) at the last read: unchanged, nothing to read
        self.size = 0  # the file's size at the last look

    def poll(self, decode: Callable[[bytes], object] = bytes) -> list:
        """The records added since the last poll, as `decode` makes them (None: not wanted; Malformed:
        damaged); a record whose CRC does not match is damaged, whether wanted or not (its length may be
        what is wrong). OSError when the file cannot be read."""
        stat = os.lstat(self.path)  # a look first: a file that did not change is not opened again
        if not self.more and self.stamp == (stat.st_ino, stat.st_size, stat.st_mtime_ns):
            return []
        with open_regular(self.path) as f:
            stat = os.fstat(f.fileno())
            self.stamp, self.size = (stat.st_ino, stat.st_size, stat.st_mtime_ns), stat.st_size
            if self.inode is not None and (stat.st_ino != self.inode or stat.st_size < self.offset):
                self.offset, self.resyncing = 0, False  # replaced or cut back: read again
            self.inode = stat.st_ino
            f.seek(self.offset)
            data = f.read(READ_LIMIT + MAX_RECORD + HEADER + 4)
        found, at = [], 0
        while at + HEADER <= len(data) and at < READ_LIMIT:
            header = data[at:at + 8]
            (length,) = struct.unpack("<Q", header)
            intact = struct.unpack("<I", data[at + 8:at + HEADER])[0] == masked_crc(header)
            if not intact or length > MAX_RECORD:
                self._damaged(at, f"a record of {length:,} bytes (over {MAX_RECORD:,})" if intact
                              else "a record header whose CRC does not match")
                at += 1  # look for the next intact header, byte by byte
                continue
            end = at + HEADER + length + 4
            if end > len(data):
                break  # still being written
            body = data[at + HEADER:end - 4]
            if struct.unpack("<I", data[end - 4:end])[0] != masked_crc(body):
                self._damaged(at, "a record whose data CRC does not match")
                at += 1  # (a cut record's length reaches into the next ones: look for them byte by byte)
                continue
            self.resyncing = False
            try:
                item = decode(body)
            except Malformed as exc:
                item = None
                self.skipped.add(f"{self.path.name} byte {self.offset + at:,}", f"not an event record ({exc})")
            if item is not None:
                found.append(item)
            at = end
        self.offset += at
        self.more = at >= READ_LIMIT
        return found

    def _damaged(self, at: int, reason: str) -> None:
        if not self.resyncing:
            self.skipped.add(f"{self.path.name} byte {self.offset + at:,}", reason)
        self.resyncing = True
