"""Dataset files and download servers as an attacker would make them (issue 13, item 6).

IDX files: a gzip bomb, absurd dimensions, empty sets, trailing data and a fuzz of headers and payloads are
refused with the documented errors, quickly and in bounded memory. Downloads: a server dripping bytes is
given up on at the deadline; stale temp files are removed; nothing is written through a symlink.
Only loopback servers that the tests start; no pickle.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import socketserver
import struct
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import download as download_module
from engine import loader, registry
from engine.dataset import DatasetError
from engine.download import DownloadError, download
from engine.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    MAX_DEFLATE_RATIO,
    MAX_ITEMS,
    MAX_PAYLOAD,
    MAX_SIDE,
    IdxError,
    read_idx,
    write_idx,
)
from engine.registry import FILENAMES, DatasetInfo, RemoteFile
from tests.conftest import fuzz_examples

MiB = 1 << 20


def idx_header(dims) -> bytes:
    return struct.pack(f">I{len(dims)}I", (IMAGES_MAGIC if len(dims) == 3 else LABELS_MAGIC), *dims)


def gzip_bomb(path: Path, dims, zeros_mib: int) -> Path:
    """A gzip stream of an IDX header for `dims` followed by `zeros_mib` MiB of zeros, ~1 KiB per MiB.

    Built in well under a second: after a full flush deflate starts afresh, so every MiB of zeros compresses
    to the same bytes, written over and over. The CRC in the trailer is left 0: a reader must stop long before.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(idx_header(dims)) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(MiB)) + deflate.flush(zlib.Z_FULL_FLUSH)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head)  # gzip member header, no name, no mtime
        for _ in range(zeros_mib):
            f.write(block)
        f.write(deflate.flush() + struct.pack("<II", 0, (len(idx_header(dims)) + zeros_mib * MiB) & 0xFFFFFFFF))
    return path


def measured(call):
    """(exception raised, seconds, peak bytes allocated by Python and NumPy meanwhile)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
    except Exception as exc:  # returned for the caller to check
        raised = exc
    else:
        raised = None
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, seconds, peak


def dataset_folder(folder: Path, **replace: bytes) -> Path:
    """The four standard files (gzip) of a tiny dataset; `replace` swaps in other bytes for a kind."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (6, 28, 28)), "train_labels": rng.integers(0, 10, 6),
              "test_images": rng.integers(0, 256, (3, 28, 28)), "test_labels": rng.integers(0, 10, 3)}
    for kind, array in arrays.items():
        write_idx(folder / FILENAMES[kind], array.astype(np.uint8))
    for kind, data in replace.items():
        (folder / FILENAMES[kind]).write_bytes(data)
    return folder


def cache_info(folder: Path) -> DatasetInfo:
    """A registry entry matching the files in `folder` (the cache trusts a file of the published size)."""
    files = []
    for kind, name in FILENAMES.items():
        data = (folder / name).read_bytes()
        files.append(RemoteFile(kind, len(data), "0" * 32, hashlib.sha256(data).hexdigest()))
    return DatasetInfo(name="mnist", title="Test MNIST", mirrors=("http://127.0.0.1:9/",), files=tuple(files),
                       class_names=tuple("0123456789"), licence="test data")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("BACKPROP_TUI_DATA", str(root))
    return root


# --- gzip bombs ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """10 images of 28x28 announced, then 2 GiB of zeros: a 2 MB file."""
    return gzip_bomb(tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz", (10, 28, 28), 2048)


def test_gzip_bomb_is_refused_at_once_in_bounded_memory(bomb):
    assert bomb.stat().st_size < 3 * MiB
    raised, seconds, peak = measured(lambda: read_idx(bomb, IMAGES_MAGIC))
    assert isinstance(raised, IdxError)
    assert str(raised) == f"{bomb}: header 10x28x28 needs 7856 bytes, found more (trailing data)"
    assert seconds < 1.0  # measured: ~1 ms
    assert peak < 1 * MiB  # measured: ~80 KiB, the gzip reader's buffers


def test_gzip_bomb_in_a_data_folder_is_a_dataset_error_naming_it(bomb, tmp_path):
    folder = dataset_folder(tmp_path / "data", train_images=bomb.read_bytes())
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: header 10x28x28 .* \(trailing data\)"):
        loader.load_dataset("mnist", data_dir=folder, warn=lambda message: None)


def test_bomb_announcing_more_than_the_bound_is_refused_before_decompressing(tmp_path):
    dims = (5000, MAX_SIDE, MAX_SIDE)  # 1.3 GB: a 2 MB gzip could hold it (such a file took 3.9 GB and 36 s)
    path = gzip_bomb(tmp_path / "big.gz", dims, 2048)
    assert np.prod(dims) > MAX_PAYLOAD and np.prod(dims) < path.stat().st_size * MAX_DEFLATE_RATIO
    raised, seconds, peak = measured(lambda: read_idx(path))
    assert isinstance(raised, IdxError) and "header 5000x512x512 is not a shape any dataset has" in str(raised)
    assert seconds < 1.0 and peak < 1 * MiB


def test_a_bomb_announcing_what_the_file_cannot_hold_is_refused_before_decompressing(tmp_path):
    path = gzip_bomb(tmp_path / "huge.gz", (MAX_ITEMS, MAX_SIDE, MAX_SIDE), 16)
    raised, seconds, peak = measured(lambda: read_idx(path))
    assert isinstance(raised, IdxError) and "more than this file can hold" in str(raised)
    assert seconds < 1.0 and peak < 1 * MiB


# --- absurd dimensions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [
    (MAX_ITEMS + 1,),  # labels
    (MAX_ITEMS + 1, 1, 1),
    (3, 0, 28),  # images of no pixels
    (3, 28, 0),
    (1, MAX_SIDE + 1, 1),
    (1, 1, 2**32 - 1),
    (0, 2**31, 2**31),  # an empty set of absurd images
], ids=["labels-too-many", "images-too-many", "zero-rows", "zero-cols", "too-wide", "absurd-side", "empty-absurd"])
def test_absurd_dimensions_are_refused_before_allocating(tmp_path, dims):
    path = tmp_path / "absurd-idx"
    with open(path, "wb") as f:  # the payload is all there (a sparse file): only the shape is wrong
        f.write(idx_header(dims))
        f.truncate(len(idx_header(dims)) + int(np.prod(dims, dtype=object)))
    raised, _, peak = measured(lambda: read_idx(path))
    assert isinstance(raised, IdxError), raised
    assert str(raised).startswith(f"{path}: header {'x'.join(map(str, dims))} ")
    assert "is not a shape any dataset has" in str(raised) or "more than this file can hold" in str(raised)
    assert peak < 256 * 1024


def test_the_bounds_admit_the_mnist_family(tmp_path):
    for dims in [(60000, 28, 28), (60000,), (10000, 28, 28), (MAX_ITEMS,), (1, MAX_SIDE, MAX_SIDE)]:
        path = tmp_path / "ok-idx"
        with open(path, "wb") as f:
            f.write(idx_header(dims))
            f.truncate(len(idx_header(dims)) + int(np.prod(dims)))
        assert read_idx(path).shape == dims


# --- empty sets -------------------------------------------------------------------------------------------

EMPTY = {"train_images": (0, 28, 28), "test_images": (0, 28, 28), "train_labels": (0,), "test_labels": (0,)}


@pytest.mark.parametrize("kind", list(EMPTY))
def test_an_empty_set_in_a_data_folder_is_refused_naming_the_file(tmp_path, kind):
    empty = gzip.compress(idx_header(EMPTY[kind]))
    folder = dataset_folder(tmp_path / "data", **{kind: empty})
    with pytest.raises(DatasetError) as info:
        loader.load_dataset("mnist", data_dir=folder, warn=lambda message: None)
    part, what = kind.split("_")
    assert str(info.value) == (f"{folder / FILENAMES[kind]}: 0 {what}: "
                               f"the {'training' if part == 'train' else 'test'} set is empty")


def test_an_empty_set_in_the_cache_is_refused_naming_the_file(cache, monkeypatch):
    folder = dataset_folder(cache / "mnist", test_images=gzip.compress(idx_header((0, 28, 28))))
    monkeypatch.setitem(registry.REGISTRY, "mnist", cache_info(folder))
    with pytest.raises(DatasetError, match=rf"^{folder / FILENAMES['test_images']}: 0 images: the test set is empty$"):
        loader.load_dataset("mnist", download_missing=False)


def test_an_empty_decoded_array_in_the_cache_is_rebuilt_from_its_file(cache, monkeypatch):
    folder = dataset_folder(cache / "mnist")
    info = cache_info(folder)
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    decoded = loader.decoded_path(folder, info.file("train_labels"))
    np.save(decoded, np.zeros(0, dtype=np.uint8), allow_pickle=False)
    data = loader.load_dataset("mnist", download_missing=False)
    assert len(data.t_train) == 6 and len(np.load(decoded, allow_pickle=False)) == 6


def test_a_decoded_array_claiming_terabytes_is_rebuilt_without_allocating_them(cache, monkeypatch):
    folder = dataset_folder(cache / "mnist")
    info = cache_info(folder)
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    decoded = loader.decoded_path(folder, info.file("train_images"))
    with open(decoded, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6, 28)})
    raised, _, peak = measured(lambda: loader.load_dataset("mnist", download_missing=False))
    assert raised is None and peak < 1 * MiB
    assert np.load(decoded, allow_pickle=False).shape == (6, 28, 28)


@pytest.mark.parametrize("header", [b"{'descr': '|u1', 'fortran_order': False, 'shape': ((((", b"-" * 3000 + b"1"],
                         ids=["unbalanced", "deep"])
def test_a_decoded_array_with_an_unparsable_header_is_rebuilt(cache, monkeypatch, header):
    folder = dataset_folder(cache / "mnist")
    info = cache_info(folder)
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    decoded = loader.decoded_path(folder, info.file("train_images"))
    padded = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    decoded.write_bytes(b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded)
    loader.load_dataset("mnist", download_missing=False)  # numpy's TokenError or RecursionError stays inside
    assert np.load(decoded, allow_pickle=False).shape == (6, 28, 28)


# --- trailing data: refused ------------------------------------------------------------------------------------
# The published files end where their header says. Bytes beyond it mean a damaged or doctored file (and in a
# --data-dir folder, one no checksum vouches for), so it is refused; finding out costs reading one byte.

def labels_idx() -> bytes:
    return idx_header((5,)) + bytes([7, 2, 1, 0, 4])


@pytest.mark.parametrize("data, expected", [
    (labels_idx() + b"\x00", r"found more \(trailing data\)"),
    (gzip.compress(labels_idx() + bytes(MiB)), r"found more \(trailing data\)"),
    (gzip.compress(labels_idx()) + gzip.compress(b"more"), r"found more \(trailing data\)"),  # a second gzip member
    (gzip.compress(labels_idx()) + b"junk after the gzip stream", "corrupt gzip data"),
], ids=["raw", "gzip", "second-member", "after-gzip"])
def test_trailing_data_is_refused(tmp_path, data, expected):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(IdxError, match=expected) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ")


def test_zero_padding_after_the_gzip_stream_is_tolerated(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"  # gzip's own rule: padding with zeros is allowed (tape blocks)
    path.write_bytes(gzip.compress(labels_idx()) + bytes(512))
    assert read_idx(path).tolist() == [7, 2, 1, 0, 4]


# --- downloads: the deadline -------------------------------------------------------------------------------------

class DripServer:
    """Sends a byte every `interval` seconds: each read is quick, the whole never ends.

    drip="body": the response headers at once, then the body; "headers": even the status line and headers;
    "tls": the start of a TLS handshake record of 16 KiB, never completed (the handshake drips)."""

    def __init__(self, data: bytes, drip: str, interval: float = 0.05):
        self.hits = 0
        self.done = threading.Event()  # stops the handlers at teardown
        outer = self
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode()

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                outer.hits += 1
                if drip == "tls":
                    at_once, dripped = b"", b"\x16\x03\x03\x40\x00" + bytes(1 << 14)
                else:
                    while self.rfile.readline() not in (b"\r\n", b""):  # the request's head
                        pass
                    at_once, dripped = (head, data) if drip == "body" else (b"", head + data)
                try:
                    self.wfile.write(at_once)
                    for i in range(len(dripped)):
                        self.wfile.write(dripped[i:i + 1])
                        if outer.done.wait(interval):
                            return
                except OSError:  # the client gave up: what the test wants
                    pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "https" if drip == "tls" else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("drip", ["body", "headers", "tls"])
def test_a_server_dripping_bytes_is_given_up_at_the_deadline(tmp_path, monkeypatch, drip):
    data = bytes(range(200))  # 10 s at 20 bytes/s; each byte arrives well within the 30 s per-read timeout
    remote = RemoteFile("train_labels", len(data), "0" * 32, hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(download_module, "DEADLINE_BASE", 0.5)
    monkeypatch.setattr(download_module, "MIN_RATE", 1000)  # deadline: 0.5 s + 200 / 1000 = 0.7 s
    server = DripServer(data, drip)
    try:
        info = DatasetInfo("mnist", "Test MNIST", (server.url,), (remote,), tuple("0123456789"), "test")
        start = time.monotonic()
        with pytest.raises(DownloadError) as exc:
            download(info, remote, tmp_path, backoff=0)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert 0.7 <= elapsed < 2.5
    assert f"{server.url}{remote.name}: too slow: not complete within 0.7 s (0.5 s + 1 s per 1 kB for 200 bytes)" \
        in str(exc.value)
    assert server.hits == 1  # a mirror too slow once is not tried again
    assert list(tmp_path.iterdir()) == []  # no .part left


def test_the_deadline_grows_with_the_file():
    assert download_module.deadline_for(0) == 60
    assert download_module.deadline_for(9912422) == pytest.approx(60 + 198.2, abs=0.1)  # MNIST training images


# --- the cache: stale temp files, symlinks ------------------------------------------------------------------------

def test_stale_part_files_are_removed_when_the_cache_is_loaded(cache, monkeypatch, tmp_path):
    folder = dataset_folder(cache / "mnist")
    info = cache_info(folder)
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    outside = tmp_path / "outside.part"
    outside.write_bytes(b"not ours")
    name = FILENAMES["train_images"]
    old = time.time() - download_module.deadline_for(info.file("train_images").size) - 2 * 60

    def made(path_name, kind="file"):
        path = folder / path_name
        if kind == "file":
            path.write_bytes(b"partial")
        elif kind == "link":
            path.symlink_to(outside)
        else:
            path.mkdir()
        os.utime(path, (old, old), follow_symlinks=False)
        return path

    stale = [made(f".{name}.abc123_x.part"), made(f".{FILENAMES['test_labels']}.q1w2e3r4.part")]
    kept = [made(f".{name}.link0001.part", "link"), made(f".{name}.dir00001.part", "dir"),
            made("notes.part"), made(f".{name}.tmp"), made(".other-file.gz.abcdefgh.part")]
    fresh = folder / f".{name}.live1234.part"  # a download in progress elsewhere: younger than its deadline
    fresh.write_bytes(b"partial")
    loader.load_dataset("mnist", download_missing=False)
    assert not any(path.exists() for path in stale)
    assert all(path.is_symlink() or path.exists() for path in kept) and fresh.exists()
    assert outside.read_bytes() == b"not ours"


def test_the_cache_never_writes_through_a_symlink(cache, monkeypatch, tmp_path):
    folder = dataset_folder(cache / "mnist")
    info = cache_info(folder)
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    decoded = loader.decoded_path(folder, info.file("train_labels"))
    decoded.symlink_to(victim)  # planted where the decoded array goes
    loader.load_dataset("mnist", download_missing=False)
    assert victim.read_bytes() == b"precious"
    assert not decoded.is_symlink() and np.load(decoded, allow_pickle=False).shape == (6,)


# --- fuzz ------------------------------------------------------------------------------------------------------------

SIDES = st.one_of(st.integers(0, 6), st.sampled_from([MAX_SIDE, MAX_SIDE + 1, MAX_ITEMS, MAX_ITEMS + 1,
                                                      2**16, 2**31, 2**32 - 1]))


@st.composite
def idx_files(draw):
    """(file bytes, uncompressed IDX bytes, payload bytes announced; both None after damage): a header (of
    the right magic and rank or not), a payload of about the size it announces or a bomb's zeros, gzip or not,
    sometimes damaged."""
    rank = draw(st.sampled_from([1, 3, 0, 2, 4]))
    magic = draw(st.one_of(st.just(0x0800 | rank), st.integers(0, 2**32 - 1)))
    dims = draw(st.lists(SIDES, min_size=rank, max_size=rank))
    announced = int(np.prod(dims, dtype=object)) if dims else 0
    compress = draw(st.booleans())
    size = draw(st.sampled_from(["exact", "short", "long"] + ["bomb"] * compress))
    if size == "bomb":
        payload = bytes(draw(st.sampled_from([64 * 1024, MiB])))
    else:
        n = min(announced, 4096) + {"exact": 0, "short": -draw(st.integers(1, 8)), "long": draw(st.integers(1, 8))}[size]
        payload = draw(st.binary(min_size=max(n, 0), max_size=max(n, 0))) if n < 64 else bytes(max(n, 0))
    raw = struct.pack(f">I{rank}I", magic, *dims) + payload
    data = gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw
    if draw(st.booleans()):
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data[: draw(st.integers(0, len(data)))]), None, None
    return data, raw, announced


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz-idx"


@settings(max_examples=fuzz_examples(400), derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=idx_files())
def test_fuzz_read_idx_only_refuses_with_idx_error_in_bounded_memory(fuzz_file, case):
    data, raw, announced = case
    fuzz_file.write_bytes(data)
    holds = len(data) * (MAX_DEFLATE_RATIO if data[:2] == b"\x1f\x8b" else 1)  # the most it could decompress to
    bound = min(holds, MAX_PAYLOAD, announced if announced is not None else holds)
    tracemalloc.start()
    try:
        out = read_idx(fuzz_file)
    except IdxError as exc:
        assert str(exc).startswith(f"{fuzz_file}: ")
        out = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= bound + 512 * 1024  # the array, plus the gzip reader's buffers and copies of one 64 KiB chunk
    if out is not None:
        assert out.dtype == np.uint8 and out.ndim in (1, 3) and all(out.shape[1:])
        if raw is not None:
            header = 4 + 4 * out.ndim
            assert raw[:header] == idx_header(out.shape) and out.tobytes() == raw[header:]
