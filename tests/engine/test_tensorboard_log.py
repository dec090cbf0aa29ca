"""Reading TensorBoard event files as they grow, trusting no file: engine/tfevents.py and engine/tensorboard_log.py."""
from __future__ import annotations

import os
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import tfevents as tf
from engine.tensorboard_log import MAX_TAG, Point, TensorBoardLog


def scalar_record(step: int, **values: float) -> bytes:
    return tf.frame(tf.event(step, 1.0, [tf.scalar(tag, value) for tag, value in values.items()]))


def header() -> bytes:
    return tf.frame(tf.event(0, 1.0, file_version="brain.Event:2"))


def write(path, data: bytes, mode="wb"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def test_crc32c_matches_the_published_check_value():
    assert tf.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720, B.4)
    assert tf.crc32c(b"") == 0


def test_scalars_come_back_by_run_tag_and_step(tmp_path):
    write(tmp_path / "a" / "events.out.tfevents.1.host", header() + scalar_record(1, loss=2.5, acc=0.25)
          + scalar_record(2, loss=1.5))
    write(tmp_path / "events.out.tfevents.2.host", header() + scalar_record(7, loss=0.5))
    log = TensorBoardLog(tmp_path)
    points = log.poll()
    assert Point("a", "loss", 1, 2.5) in points and Point("a", "acc", 1, 0.25) in points
    assert Point("a", "loss", 2, 1.5) in points
    assert Point(tmp_path.name, "loss", 7, 0.5) in points  # the top folder's own files: its name
    assert len(points) == 4 and log.caught_up and not log.skipped.count
    assert log.poll() == []


def test_a_record_being_written_waits_for_its_end(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    record = scalar_record(3, loss=1.25)
    write(path, header() + record[:-6])
    log = TensorBoardLog(tmp_path)
    assert log.poll() == []
    write(path, record[-6:], "ab")
    assert log.poll() == [Point(tmp_path.name, "loss", 3, 1.25)]
    assert not log.skipped.count


def test_damaged_records_are_skipped_and_counted_and_the_next_ones_read(tmp_path):
    good = [scalar_record(i, loss=float(i)) for i in range(6)]
    damaged_data = bytearray(good[1])
    damaged_data[20] ^= 0x40  # inside the data: its CRC no longer matches
    damaged_header = bytearray(good[3])
    damaged_header[2] ^= 0x01  # the length: its CRC no longer matches, and it cannot be followed
    data = header() + good[0] + bytes(damaged_data) + good[2] + bytes(damaged_header) + good[4] + good[5]
    write(tmp_path / "events.out.tfevents.1", data)
    log = TensorBoardLog(tmp_path)
    steps = [p.step for p in log.poll()]
    assert steps == [0, 2, 4, 5]
    assert log.skipped.count == 2
    assert "data CRC" in log.skipped.first


def test_an_overlong_record_is_refused_without_reading_it(tmp_path):
    length = struct.pack("<Q", tf.MAX_RECORD + 1)
    bogus = length + struct.pack("<I", tf.masked_crc(length)) + b"x" * 64
    write(tmp_path / "events.out.tfevents.1", header() + bogus + scalar_record(9, loss=1.0))
    log = TensorBoardLog(tmp_path)
    assert [p.step for p in log.poll()] == [9]
    assert log.skipped.count == 1 and "over" in log.skipped.first


def test_a_record_with_good_crcs_that_is_not_an_event_is_counted(tmp_path):
    write(tmp_path / "events.out.tfevents.1", tf.frame(b"\x0f\xff") + scalar_record(1, loss=1.0))
    log = TensorBoardLog(tmp_path)
    assert [p.step for p in log.poll()] == [1]
    assert log.skipped.count == 1 and "not an event record" in log.skipped.first


def test_tags_are_one_line_of_plain_text_and_bounded(tmp_path):
    write(tmp_path / "events.out.tfevents.1", scalar_record(1, **{"\x1b[31mred\x07" + "x" * 500: 1.0,
                                                                  "multi\nline\ttag\r\n": 2.0}))
    points = TensorBoardLog(tmp_path).poll()
    assert points[0].tag.startswith("\ufffd[31mred\ufffdx") and len(points[0].tag) == MAX_TAG
    assert points[1].tag == "multi line tag"


def test_symlinks_are_never_followed(tmp_path):
    outside = tmp_path / "outside"
    write(outside / "events.out.tfevents.1", scalar_record(1, secret=1.0))
    logdir = tmp_path / "logs"
    write(logdir / "real" / "events.out.tfevents.1", scalar_record(1, loss=1.0))
    os.symlink(outside, logdir / "linked-folder")
    os.symlink(outside / "events.out.tfevents.1", logdir / "real" / "events.out.tfevents.2")
    os.symlink(outside / "events.out.tfevents.1", logdir / "real" / "notes.txt")  # not an event file: not said
    log = TensorBoardLog(logdir)
    assert [p.tag for p in log.poll()] == ["loss"]
    assert log.links == 2  # the viewer says so


def test_a_file_replaced_by_a_symlink_is_reported_not_followed(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    write(path, scalar_record(1, loss=1.0))
    log = TensorBoardLog(tmp_path)
    assert len(log.poll()) == 1
    write(tmp_path / "elsewhere", scalar_record(2, loss=2.0))
    path.unlink()
    os.symlink(tmp_path / "elsewhere", path)
    log.find_files = lambda: [path]  # (the folder scan passes links over; a reader may already hold one)
    assert log.poll() == []
    assert path in log.unreadable


def test_a_file_written_again_from_the_start_is_read_again(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    write(path, scalar_record(1, loss=1.0) + scalar_record(2, loss=2.0))
    log = TensorBoardLog(tmp_path)
    assert len(log.poll()) == 2
    write(tmp_path / "new", scalar_record(1, loss=5.0))
    os.replace(tmp_path / "new", path)
    assert log.poll() == [Point(tmp_path.name, "loss", 1, 5.0)]


def test_scalar_tensors_as_tf2_and_newer_pytorch_write_them(tmp_path):
    """TF2's tf.summary.scalar and PyTorch's new_style scalars: a 0-d tensor in float_val or tensor_content."""
    def tensor_value(tag: str, tensor: bytes) -> bytes:
        plugin = tf.bytes_field(1, tf.bytes_field(1, "scalars"))
        return tf.bytes_field(1, tag) + tf.bytes_field(9, plugin) + tf.bytes_field(8, tensor)

    as_float_val = tf.varint_field(1, 1) + tf.bytes_field(2, b"") + tf.bytes_field(5, struct.pack("<f", 0.75))
    as_content = tf.varint_field(1, 2) + tf.bytes_field(4, struct.pack("<d", -3.5))
    as_int64 = tf.varint_field(1, 9) + tf.varint_field(10, (-4) & (1 << 64) - 1)
    a_vector = tf.varint_field(1, 1) + tf.bytes_field(2, tf.bytes_field(2, tf.varint_field(1, 2))) \
        + tf.bytes_field(5, struct.pack("<2f", 1, 2))
    values = [tensor_value("f", as_float_val), tensor_value("d", as_content), tensor_value("i", as_int64),
              tensor_value("vector", a_vector)]
    write(tmp_path / "events.out.tfevents.1", tf.frame(tf.event(5, 1.0, values)))
    points = TensorBoardLog(tmp_path).poll()
    assert {(p.tag, p.value) for p in points} == {("f", 0.75), ("d", -3.5), ("i", -4.0)}


def test_files_written_by_tensorboards_own_writer(tmp_path):
    """The protobuf library's bytes, not ours: TensorBoard's EventFileWriter with simple values and scalar
    tensors."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path / "run"))
    for step in range(50):
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[step / 10],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto())
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=1 / (step + 1)),
                                             summary_pb2.Summary.Value(tag="tensor", tensor=tensor)])
        writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
    writer.close()
    points = TensorBoardLog(tmp_path).poll()
    loss = [p for p in points if p.tag == "loss"]
    assert [p.step for p in loss] == list(range(50))
    assert [p.value for p in loss] == pytest.approx([1 / (s + 1) for s in range(50)], rel=1e-6)  # float32
    assert [p.value for p in points if p.tag == "tensor"] == pytest.approx([s / 10 for s in range(50)], rel=1e-6)
    assert {p.run for p in points} == {"run"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=400), cut=st.integers(0, 400))
def test_any_bytes_are_read_without_failing_and_intact_records_survive(tmp_path, junk, cut):
    good = scalar_record(1, loss=1.0)
    path = tmp_path / "events.out.tfevents.1"
    write(path, junk[:cut] + good + junk[cut:] + good)
    log = TensorBoardLog(tmp_path)
    points = log.poll()
    assert points.count(Point(tmp_path.name, "loss", 1, 1.0)) >= 2  # resynchronised past the junk both times


def test_the_search_for_files_is_bounded_and_says_so(tmp_path, monkeypatch):
    from engine import tensorboard_log

    monkeypatch.setattr(tensorboard_log, "MAX_FOLDERS", 5)
    for n in range(10):
        write(tmp_path / f"run{n}" / "events.out.tfevents.1", scalar_record(1, loss=float(n)))
    log = TensorBoardLog(tmp_path)
    points = log.poll()
    assert 0 < len(points) < 10 and log.too_many_folders


def test_new_files_are_found_at_the_next_search(tmp_path):
    from engine.tensorboard_log import SEARCH_EVERY

    log = TensorBoardLog(tmp_path)
    assert log.poll() == []
    write(tmp_path / "late" / "events.out.tfevents.1", scalar_record(4, loss=0.5))
    found = [log.poll() for _ in range(SEARCH_EVERY)]
    assert found[-1] == [Point("late", "loss", 4, 0.5)] and not any(found[:-1])


def test_a_cut_record_that_is_not_read_does_not_cost_the_scalars_after_it(tmp_path):
    """A histogram record missing half its data: its length reaches into the next records, so its CRC is
    checked though its contents are not used, and the reader finds the records after it."""
    histogram = tf.frame(tf.event(1, 1.0, [tf.histogram("w", [float(e) for e in range(101)], [1] * 100, 0.0, 0.0)]))
    cut = histogram[:tf.HEADER + (len(histogram) - tf.HEADER) // 2]
    write(tmp_path / "events.out.tfevents.1", b"".join(scalar_record(s, x=1.0) for s in range(10)) + cut
          + b"".join(scalar_record(s, x=1.0) for s in range(10, 200)))
    log = TensorBoardLog(tmp_path)
    assert [p.step for p in log.poll()] == list(range(200))
    assert log.skipped.count == 1


def test_a_file_that_did_not_change_is_not_opened_again(tmp_path, monkeypatch):
    path = tmp_path / "events.out.tfevents.1"
    write(path, scalar_record(1, loss=1.0))
    opened = []
    real_open = tf.open_regular
    monkeypatch.setattr(tf, "open_regular", lambda p: opened.append(p) or real_open(p))
    log = TensorBoardLog(tmp_path)
    log.poll()
    log.poll()
    assert len(opened) == 1
    write(path, scalar_record(2, loss=2.0), "ab")
    assert [p.step for p in log.poll()] == [2] and len(opened) == 2
    assert log.progress() == (path.stat().st_size, path.stat().st_size)
