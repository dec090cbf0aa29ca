"""IDX reading and writing: round trips, and every malformed file refused with an IdxError naming it."""
import gzip
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxError, parse_idx, read_idx, write_idx


def idx_bytes(magic, dims, payload):
    return struct.pack(f">I{len(dims)}I", magic, *dims) + bytes(payload)


def valid_labels():
    return idx_bytes(LABELS_MAGIC, (5,), [7, 2, 1, 0, 4])


def valid_images():
    return idx_bytes(IMAGES_MAGIC, (2, 3, 2), range(12))


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# --- round trips -------------------------------------------------------------

@pytest.mark.parametrize("name", ["labels-idx1-ubyte", "labels-idx1-ubyte.gz"])
def test_labels_round_trip(tmp_path, name):
    labels = np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4], dtype=np.uint8)
    path = tmp_path / name
    write_idx(path, labels)
    raw = path.read_bytes()
    if name.endswith(".gz"):
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    assert raw[:8] == b"\x00\x00\x08\x01\x00\x00\x00\x0a"  # magic 0x801, 10 items
    assert len(raw) == 8 + 10
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (10,)
    np.testing.assert_array_equal(out, labels)
    np.testing.assert_array_equal(read_idx(path, expect_magic=LABELS_MAGIC), labels)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_images_round_trip(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    path = tmp_path / name
    write_idx(path, images)
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    assert raw[:16] == struct.pack(">IIII", 0x803, 4, 28, 28)
    assert len(raw) == 16 + 4 * 28 * 28
    out = read_idx(path, expect_magic=IMAGES_MAGIC)
    assert out.shape == (4, 28, 28) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_compress_flag_overrides_suffix(tmp_path):
    labels = np.arange(6, dtype=np.uint8)
    plain = tmp_path / "plain.gz"
    write_idx(plain, labels, compress=False)
    assert plain.read_bytes()[:4] == b"\x00\x00\x08\x01"
    packed = tmp_path / "packed.idx"
    write_idx(packed, labels, compress=True)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(plain), labels)
    np.testing.assert_array_equal(read_idx(packed), labels)


def test_write_overwrites_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "t.idx"
    write_idx(path, np.arange(3, dtype=np.uint8))
    write_idx(path, np.arange(5, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(path), np.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["t.idx"]


def test_an_empty_array_with_absurd_other_dimensions_is_refused(tmp_path):
    path = tmp_path / "absurd"
    path.write_bytes(struct.pack(">I3I", IMAGES_MAGIC, 0, 2**31, 2**31))  # 0 images of 2^31 x 2^31 pixels
    with pytest.raises(IdxError, match="not a shape"):
        read_idx(path)


def test_empty_arrays_round_trip(tmp_path):
    write_idx(tmp_path / "l", np.zeros(0, dtype=np.uint8))
    write_idx(tmp_path / "i", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "l").shape == (0,)
    assert read_idx(tmp_path / "i").shape == (0, 28, 28)


@pytest.mark.parametrize("shape", [(3, 4), (1, 2, 3, 4), (2, 1, 1, 1, 1)])
def test_write_refuses_other_ranks(tmp_path, shape):
    with pytest.raises(ValueError, match="1-D and images 3-D"):
        write_idx(tmp_path / "x", np.zeros(shape, dtype=np.uint8))
    assert not (tmp_path / "x").exists()


# --- malformed files ---------------------------------------------------------

TRUNCATED = r"(found \d+ \(truncated\)|more than this file can hold)"


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(
    "data, expected",
    [
        (idx_bytes(0x0802, (5,), range(5)), r"magic number 0x00000802 is not IDX labels \(0x00000801\) or images"),
        (b"\x1f\x00\x08\x01" + bytes(8), r"magic number 0x1f000801 is not IDX"),
        (b"PK\x03\x04" + bytes(20), r"magic number 0x504b0304 is not IDX"),
        (valid_labels()[:-1], r"header 5 needs 13 bytes, " + TRUNCATED),
        (valid_labels() + b"\x00", r"header 5 needs 13 bytes, found .*\(trailing data\)"),
        (valid_images()[:20], r"header 2x3x2 needs 28 bytes, " + TRUNCATED),
        (valid_images() + b"xyz", r"header 2x3x2 needs 28 bytes, found .*\(trailing data\)"),
        (struct.pack(">II", IMAGES_MAGIC, 2), r"header needs 16 bytes, file has 8"),
        (struct.pack(">I", LABELS_MAGIC), r"header needs 8 bytes, file has 4"),
        (b"\x00\x00\x08", r"3 bytes is too short for an IDX header"),
        (idx_bytes(IMAGES_MAGIC, (60000, 28, 28), range(10)), r"header 60000x28x28 needs 47040016 bytes, " + TRUNCATED),
        (idx_bytes(IMAGES_MAGIC, (2**32 - 1,) * 3, b""), r"needs \d{29} bytes, " + TRUNCATED),
    ],
    ids=[
        "magic-802", "magic-1f", "zip", "labels-truncated", "labels-trailing", "images-truncated",
        "images-trailing", "images-header-short", "labels-header-short", "3-bytes", "huge-header", "absurd-header",
    ],
)
def test_malformed_files_raise_idx_error_naming_the_file(tmp_path, data, expected, gz):
    path = write(tmp_path / "bad-idx1-ubyte", data, gz)
    with pytest.raises(IdxError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert re.search(expected, message), message


def test_idx_error_is_a_value_error():
    assert issubclass(IdxError, ValueError)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_empty_file(tmp_path, gz):
    path = write(tmp_path / "empty", b"", gz)  # gz: a valid gzip stream of nothing
    with pytest.raises(IdxError) as info:
        read_idx(path)
    assert str(info.value) == f"{path}: 0 bytes is too short for an IDX header"


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_expect_magic_mismatch(tmp_path, gz):
    labels = write(tmp_path / "labels", valid_labels(), gz)
    images = write(tmp_path / "images", valid_images(), gz)
    with pytest.raises(IdxError) as info:
        read_idx(labels, expect_magic=IMAGES_MAGIC)
    assert str(info.value) == f"{labels}: expected IDX images (magic 0x00000803), found magic 0x00000801"
    with pytest.raises(IdxError) as info:
        read_idx(images, expect_magic=LABELS_MAGIC)
    assert str(info.value) == f"{images}: expected IDX labels (magic 0x00000801), found magic 0x00000803"


@pytest.mark.parametrize(
    "data",
    [
        b"\x1f\x8b",  # gzip magic and nothing else
        b"\x1f\x8b\x08\x00" + bytes(6) + b"garbage that is not deflate data",
        gzip.compress(valid_labels())[:-6],  # stream cut short
        gzip.compress(valid_labels())[:-8] + b"\x00\x00\x00\x00" + gzip.compress(valid_labels())[-4:],  # bad CRC
    ],
    ids=["magic-only", "not-deflate", "cut-short", "bad-crc"],
)
def test_corrupt_gzip(tmp_path, data):
    path = write(tmp_path / "t10k-labels-idx1-ubyte.gz", data)
    with pytest.raises(IdxError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: corrupt gzip data (")


def test_missing_file(tmp_path):
    path = tmp_path / "no-such-dir" / "train-images-idx3-ubyte.gz"
    with pytest.raises(IdxError) as info:
        read_idx(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(IdxError, match="cannot read") as info:
        read_idx(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_parse_idx_uses_the_given_name():
    with pytest.raises(IdxError, match=r"^<memory>: magic number 0x00000000"):
        parse_idx(bytes(8), "<memory>")
    out = parse_idx(valid_images(), "<memory>", IMAGES_MAGIC)
    np.testing.assert_array_equal(out, np.arange(12, dtype=np.uint8).reshape(2, 3, 2))


# --- fuzzing -----------------------------------------------------------------

def check_parse(raw: bytes) -> None:
    """parse_idx either refuses with IdxError or returns uint8 data consistent with the input length."""
    try:
        out = parse_idx(raw, "fuzz")
    except IdxError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    assert out.ndim in (1, 3)
    header = 4 + 4 * out.ndim
    assert out.size == len(raw) - header
    assert out.shape == struct.unpack(f">{out.ndim}I", raw[4:header])
    assert out.tobytes() == raw[header:]


@st.composite
def mutated_idx(draw):
    base = draw(
        st.sampled_from([valid_labels(), valid_images(), idx_bytes(LABELS_MAGIC, (0,), b""), idx_bytes(IMAGES_MAGIC, (1, 1, 1), b"\x05")])
    )
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "append", "set"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            i = draw(st.integers(0, min(len(data), 16) - 1))  # mostly hit the header
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        else:
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(raw):
    check_parse(raw)


@settings(max_examples=300, deadline=None)
@given(mutated_idx())
def test_fuzz_mutated_valid_files(raw):
    check_parse(raw)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mutated_idx(), compress=st.booleans(), cut=st.integers(0, 40))
def test_fuzz_read_idx_files_raw_and_gzip(fuzz_dir, raw, compress, cut):
    data = gzip.compress(raw, mtime=0) if compress else raw
    if compress and cut:
        data = data[: max(0, len(data) - cut)]  # damage the gzip stream too
    path = fuzz_dir / "fuzz.idx"
    path.write_bytes(data)
    try:
        out = read_idx(path)
    except IdxError as exc:
        assert str(exc).startswith(f"{path}: ")
        return
    assert out.dtype == np.uint8
    header = 4 + 4 * out.ndim
    assert out.size == len(raw) - header  # data read back is exactly the undamaged original
    assert out.tobytes() == raw[header:]


def test_write_idx_refuses_a_scalar(tmp_path):
    with pytest.raises(ValueError, match="1-D and images 3-D"):
        write_idx(tmp_path / "x", np.uint8(7))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("gz", [False, True])
def test_huge_header_in_a_small_file_allocates_nothing_big(tmp_path, gz):
    """A header may claim gigabytes; the reader refuses before allocating what the file cannot hold."""
    import tracemalloc

    raw = struct.pack(">IIII", IMAGES_MAGIC, 60000, 2000, 2000) + b"\x00" * 1000
    path = tmp_path / ("huge.gz" if gz else "huge")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    tracemalloc.start()
    try:
        with pytest.raises(IdxError, match="more than this file can hold"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
