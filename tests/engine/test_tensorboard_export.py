"""`python -m engine export RUN --tensorboard`: our event files as TensorBoard's own writer and reader have them.

The codec's checks (CRC32C vectors, the grid image, the EMA) need nothing; the comparisons with TensorBoard's
writer and the round trip through its EventAccumulator need the tensorboard package (the test extra) and are
skipped without it.
"""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine import tfevents
from engine.checkpoint import load_checkpoint
from engine.cli import main
from engine.config import TrainConfig
from engine.history import Ema
from engine.records import Skipped
from engine.runs import checkpoints, read_events
from engine.tensorboard_export import (
    GAP_VALUE,
    IMAGE_TAG,
    MAX_TILES,
    bin_moments,
    export_tensorboard,
    run_start,
    weight_grid,
)
from tests.conftest import make_dataset, mnist_folder

ITERS, GRADCHECK_EVERY = 60, 30  # 400 digits in batches of 40: an epoch (a score and layer stats) every 10


def tensorboard_modules():
    """TensorBoard's reader, writer and protos; the test is skipped without the package."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer import event_file_writer, record_writer

    return event_accumulator, event_pb2, summary_pb2, event_file_writer, record_writer


def accumulate(folder: Path):
    event_accumulator = tensorboard_modules()[0]
    keep_all = {kind: 0 for kind in (event_accumulator.SCALARS, event_accumulator.HISTOGRAMS,
                                     event_accumulator.IMAGES, event_accumulator.TENSORS)}
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance=keep_all)
    accumulator.Reload()
    return accumulator


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real run made by `python -m engine train`: 60 batches, a grad check every 30, a checkpoint each epoch."""
    root = tmp_path_factory.mktemp("tb")
    data = mnist_folder(root / "data", make_dataset(n_train=400, n_test=100, side=28))
    assert main(["train", "--data-dir", str(data), "--runs-dir", str(root / "runs"), "--iters", str(ITERS),
                 "--batch-size", "40", "--hidden", "16", "--weight-init", "he", "--checkpoint-every", "0",
                 "--gradcheck-every", str(GRADCHECK_EVERY)]) == 0
    (run,) = (root / "runs").iterdir()
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run, for a test to export into (or damage)."""
    return Path(shutil.copytree(trained, tmp_path / trained.name))


# --- the codec, against known values and TensorBoard's writer --------------------------------------------

def test_crc32c_known_vectors():
    assert tfevents.crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C (Castagnoli)
    assert tfevents.crc32c(b"") == 0
    assert tfevents.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 (iSCSI), B.4
    assert tfevents.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert tfevents.crc32c(bytes(range(32))) == 0x46DD794E


def test_masked_crc_and_framing_match_tensorboards():
    pytest.importorskip("tensorboard")
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    *_, record_writer = tensorboard_modules()
    for data in (b"", b"123456789", bytes(range(256)) * 3):
        assert tfevents.masked_crc(data) == masked_crc32c(data)
        out = io.BytesIO()
        record_writer.RecordWriter(out).write(data)
        assert tfevents.frame(data) == out.getvalue()


def test_our_events_are_byte_for_byte_what_tensorboards_writer_writes(tmp_path):
    """EventFileWriter (tensorboard's own, no TensorFlow) writes the protos; we encode the same by hand. Values
    are nonzero: proto3 leaves zeros out, we write them (both read the same)."""
    _, event_pb2, summary_pb2, event_file_writer, _ = tensorboard_modules()
    edges, counts = [-0.5, -0.25, 0.125, 0.75], [3, 0, 7]
    pixels = np.arange(6 * 5, dtype=np.uint8).reshape(6, 5) * 8
    ours_values = [tfevents.scalar("loss", 2.25),
                   tfevents.histogram("weights/Affine1", edges, counts, *bin_moments(edges, counts)),
                   tfevents.image(IMAGE_TAG, pixels)]
    total, squares = bin_moments(edges, counts)
    theirs = summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="loss", simple_value=2.25),
        summary_pb2.Summary.Value(tag="weights/Affine1", histo=summary_pb2.HistogramProto(
            min=-0.5, max=0.75, num=10, sum=total, sum_squares=squares, bucket_limit=edges[1:], bucket=counts)),
        summary_pb2.Summary.Value(tag=IMAGE_TAG, image=summary_pb2.Summary.Image(
            height=6, width=5, colorspace=1, encoded_image_string=tfevents.png(pixels)))])
    writer = event_file_writer.EventFileWriter(str(tmp_path))
    writer.add_event(event_pb2.Event(wall_time=1796651159.5, step=42, summary=theirs))
    writer.close()
    (written,) = tmp_path.iterdir()
    records = split_records(written.read_bytes())
    version = event_pb2.Event.FromString(records[0])
    assert version.file_version == "brain.Event:2"
    version.ClearField("source_metadata")  # which writer wrote it: TensorBoard's says so, ours does not
    ours_version = tfevents.event(0, version.wall_time, file_version="brain.Event:2")
    assert event_pb2.Event.FromString(ours_version) == version  # the same message; ours also writes step 0
    ours = tfevents.event(42, 1796651159.5, ours_values)
    assert ours == records[1]
    assert tfevents.frame(ours) == written.read_bytes()[len(tfevents.frame(records[0])):]


def split_records(data: bytes) -> list[bytes]:
    """The records of an event file, each checked by its CRCs."""
    records, at = [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        assert struct.unpack("<I", data[at + 8:at + 12])[0] == tfevents.masked_crc(data[at:at + 8])
        body = data[at + 12:at + 12 + length]
        assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == tfevents.masked_crc(body)
        records.append(body)
        at += 16 + length
    return records


def decode_png(data: bytes) -> np.ndarray:
    """A grayscale 8-bit PNG without filters (as tfevents.png writes) as an array, chunk CRCs checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, colour, *_ = header
    assert (depth, colour) == (8, 0)
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any()  # filter 0 on each row
    return rows[:, 1:]


# --- the pieces ---------------------------------------------------------------------------------------------

def test_weight_grid_tiles_each_unit_around_gray_128_with_black_gaps():
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.1, (784, 10))
    w1[:, 3] = 0.0  # a unit of zeros is all gray
    grid = weight_grid(w1, 28)
    assert grid.shape == (3 * 29 - 1, 4 * 29 - 1) and grid.dtype == np.uint8  # 10 units: 4 columns, 3 rows
    tile = grid[29:57, 29:57]  # unit 5: row 1, column 1
    unit = w1[:, 5].reshape(28, 28)
    assert np.array_equal(tile, 128 + np.rint(127 * unit / np.abs(unit).max()))
    assert {tile.min(), tile.max()} & {1, 255}  # its largest |weight| at an end
    assert (grid[:28, 3 * 29:3 * 29 + 28] == 128).all()
    assert (grid[28, :] == GAP_VALUE).all() and (grid[:, 28] == GAP_VALUE).all()
    assert (grid[58:, 2 * 29:] == GAP_VALUE).all()  # the last row has 2 units: the rest is empty
    assert weight_grid(rng.normal(size=(16, 2000)), 4).shape == (32 * 5 - 1, 32 * 5 - 1)  # MAX_TILES of them
    assert MAX_TILES == 32 * 32


def test_bin_moments_from_bin_centres():
    assert bin_moments([0.0, 1.0, 3.0], [2, 1]) == (2 * 0.5 + 2.0, 2 * 0.25 + 4.0)


def test_loss_ema_is_the_monitors_smoothed_loss():
    from engine import events as ev
    from tui.state import MonitorState

    losses = [2.3, 2.1, float("nan"), 1.9, float("inf"), 1.7] + [1.0 + 0.01 * k for k in range(40)]
    state = MonitorState(TrainConfig())
    state.apply(ev.Batches(1, np.array(losses), 0.1, 0.0, 0.01, 1.0))
    drawn = state.smoothed.blocks(1, len(losses), len(losses)).mean  # level 0: each point as it is
    ema = Ema()
    assert np.allclose([ema(loss) for loss in losses], drawn, rtol=0, atol=1e-12)
    assert math.isnan(Ema()(float("nan")))  # before any finite loss: the loss itself


def test_run_start_is_the_directory_names_timestamp_else_config_mtime(tmp_path):
    assert run_start(tmp_path / "20261207T112120Z-mnist-784-50-10") == 1796642480.0
    other = tmp_path / "my-run"
    other.mkdir()
    (other / "config.json").write_text("{}")
    os.utime(other / "config.json", (1_700_000_000, 1_700_000_000))
    assert run_start(other) == 1_700_000_000
    impossible = tmp_path / "20261307T112120Z-renamed"  # a 13th month: not a date, so the config's time
    impossible.mkdir()
    (impossible / "config.json").write_text("{}")
    os.utime(impossible / "config.json", (1_700_000_000, 1_700_000_000))
    assert run_start(impossible) == 1_700_000_000


# --- the round trip: a real run, exported, read back by TensorBoard -----------------------------------

def test_round_trip_through_tensorboards_event_accumulator(run):
    skipped = Skipped()
    written = export_tensorboard(run, skipped=skipped, host="testhost")
    assert skipped.count == 0 and not written.bad_checkpoints.count and not written.others
    start = run_start(run)
    assert written.path == run / "tensorboard" / f"events.out.tfevents.{int(start)}.testhost.backprop-tui"
    assert [p.name for p in written.path.parent.iterdir()] == [written.path.name]  # no temp file left
    assert written.path.stat().st_mode & 0o777 == 0o600
    records = list(read_events(run))
    acc = accumulate(written.path.parent)
    assert acc.file_version == 2.0

    def series(tag):
        events = acc.Scalars(tag)
        assert {e.wall_time for e in events} == {start}
        return [e.step for e in events], np.array([e.value for e in events])

    # Every batch's loss (the log keeps them to float32, as the file does), its EMA, and the learning rate.
    batches = [r for r in records if r["event"] == "BatchDone"]
    steps, losses = series("loss")
    assert steps == [r["iteration"] for r in batches] == list(range(1, ITERS + 1))
    assert np.array_equal(losses, np.float32([r["loss"] for r in batches]))
    ema = Ema()
    assert np.allclose(series("loss_ema")[1], [ema(r["loss"]) for r in batches], rtol=1e-6, atol=0)
    assert series("lr") == (steps, pytest.approx(np.full(ITERS, 0.1), rel=1e-7))

    # Accuracy at every score: before training and after each of 6 epochs.
    scores = {r["iteration"]: r for r in records if r["event"] in ("EpochDone", "Evaluated")}
    assert sorted(scores) == [0, 10, 20, 30, 40, 50, 60]
    for tag, field in (("accuracy/train", "train_acc"), ("accuracy/test", "test_acc")):
        steps, values = series(tag)
        assert steps == sorted(scores)
        assert np.array_equal(values, np.float32([scores[s][field] for s in steps]))

    # Grad checks: each tensor's differences.
    checks = [r for r in records if r["event"] == "GradCheckDone"]
    assert [c["iteration"] for c in checks] == [30, 60]
    for row in checks[0]["rows"]:
        for column in ("mean_abs_diff", "max_abs_diff", "max_rel_error"):
            steps, values = series(f"gradcheck/{row['name']}/{column}")
            assert steps == [30, 60]
            assert values.tolist() == [np.float32(c["rows"][checks[0]["rows"].index(row)][column]) for c in checks]

    # Layer statistics: norms, dead units, and the histograms' bins exactly.
    stats = [r for r in records if r["event"] == "LayerStats"]
    assert [s["iteration"] for s in stats] == [10, 20, 30, 40, 50, 60]
    for k, name in enumerate(["Affine1", "Affine2"]):
        rows = [s["layers"][k] for s in stats]
        assert series(f"grad_norm/{name}/W")[1].tolist() == [np.float32(r["weight_grad_norm"]) for r in rows]
        assert series(f"grad_norm/{name}/b")[1].tolist() == [np.float32(r["bias_grad_norm"]) for r in rows]
        if name == "Affine1":
            assert series("dead_units/Affine1")[1].tolist() == [np.float32(r["dead_share"]) for r in rows]
        for tag, counts, edges in ((f"weights/{name}", "weight_counts", "weight_edges"),
                                   (f"gradients/{name}", "grad_counts", "grad_edges")):
            histograms = acc.Histograms(tag)
            assert [h.step for h in histograms] == [s["iteration"] for s in stats]
            for h, row in zip(histograms, rows):
                value = h.histogram_value
                assert value.bucket == list(row[counts]) and value.bucket_limit == list(row[edges][1:])
                assert (value.min, value.max, value.num) == (row[edges][0], row[edges][-1], sum(row[counts]))
                assert (value.sum, value.sum_squares) == pytest.approx(bin_moments(row[edges], row[counts]))
    assert "dead_units/Affine2" not in acc.Tags()["scalars"]  # the output layer has no ReLU after it

    # The weight image: one per checkpoint, the grid of W1's 16 units, pixel for pixel.
    found = checkpoints(run)
    images = acc.Images(IMAGE_TAG)
    assert len(found) == 3 and [i.step for i in images] == [load_checkpoint(p).iteration for p in found]
    for image, path in zip(images, found):
        expected = weight_grid(load_checkpoint(path).params["W1"], 28)
        assert (image.width, image.height) == (4 * 29 - 1, 4 * 29 - 1) == expected.shape[::-1]
        assert np.array_equal(decode_png(image.encoded_image_string), expected)
    assert acc.Tags()["images"] == [IMAGE_TAG]

    # Exporting again replaces the file: never two files of one run.
    again = export_tensorboard(run, host="testhost")
    assert again.path == written.path and len(list(written.path.parent.iterdir())) == 1


def test_the_file_starts_with_the_version_event_and_holds_what_the_report_says(run):
    written = export_tensorboard(run, run / "elsewhere" / "tb", host="h")
    records = split_records(written.path.read_bytes())
    assert tfevents.event(0, run_start(run), file_version="brain.Event:2") == records[0]
    decoded = [tfevents.decode_scalars(r) for r in records[1:]]
    assert sum(tag == "loss" for d in decoded for tag, _ in d.values) == written.batches == ITERS
    assert (written.scores, written.gradchecks, written.layer_stats, written.images) == (7, 2, 6, 3)
    assert written.histograms == {f"{kind}/Affine{k}" for kind in ("weights", "gradients") for k in (1, 2)}


def test_damaged_log_lines_and_checkpoints_are_skipped_and_counted(run, capsys):
    log = run / "events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[3:3] = [b"not json at all\n", b'{"event": "EpochDone", "epoch": 1, "iteration": -5}\n']
    log.write_bytes(b"".join(lines))
    first, *_ = checkpoints(run)
    first.write_bytes(b"PK\x03\x04 this is no checkpoint")
    assert main(["export", str(run), "--tensorboard"]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "2 damaged records skipped (first: line 4: not JSON)" in captured.err
    assert f"1 checkpoint that did not load, so no weight image from it (first: {first.name}" in captured.err
    skipped = Skipped()
    written = export_tensorboard(run, skipped=skipped)
    assert skipped.count == 2 and written.bad_checkpoints.count == 1 and written.images == 2
    losses = [tag for r in split_records(written.path.read_bytes())[1:]
              for tag, _ in tfevents.decode_scalars(r).values if tag == "loss"]
    assert len(losses) == ITERS


def test_a_checkpoint_of_inputs_that_are_no_square_picture_gives_no_image(run, monkeypatch):
    import engine.tensorboard_export as module

    real = module.load_checkpoint

    def wide(path):  # as if the inputs were 785 numbers
        checkpoint = real(path)
        return type(checkpoint)(**{**checkpoint.__dict__, "params": {
            **checkpoint.params, "W1": np.zeros((785, 16), np.float32)}})

    monkeypatch.setattr(module, "load_checkpoint", wide)
    written = export_tensorboard(run)
    assert written.images == 0 and written.not_pictures == 3 and not written.image_tags


# --- the command --------------------------------------------------------------------------------------------

def test_cli_prints_the_file_what_it_holds_and_how_to_view_it(run, capsys):
    assert main(["export", str(run), "--tensorboard"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    folder = run / "tensorboard"
    (path,) = folder.iterdir()
    assert lines[0] == str(path) and re.fullmatch(r"events\.out\.tfevents\.\d+\.[^/]+\.backprop-tui", path.name)
    assert lines[1] == ("  scalars:    loss, loss_ema, lr (60 batches); accuracy/train, accuracy/test (7 scores); "
                        "gradcheck/TENSOR/... (2 checks); grad_norm/LAYER/W and /b, dead_units/LAYER "
                        "(6 layer statistics)")
    assert lines[2] == "  histograms: gradients/Affine1, gradients/Affine2, weights/Affine1, weights/Affine2"
    assert lines[3] == f"  images:     {IMAGE_TAG} (3 checkpoints)"
    assert lines[4].startswith("  wall time:  every event at the run's start (") and "STEP axis" in lines[4]
    assert lines[5:] == [f"view it: tensorboard --logdir {folder}", f"     or: python -m tui --view {folder}"]
    assert err == ""
    other = run.parent / "my tb"
    assert main(["export", str(run), "--tensorboard", str(other)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(other / path.name)) and f"tensorboard --logdir '{other}'" in out


def test_cli_refuses_a_symlink_a_file_and_a_folder_it_cannot_make(run, tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    for target, reason in ((tmp_path / "link", "is a symlink"), (tmp_path / "file", "is not a folder"),
                           (tmp_path / "file" / "tb", "cannot be made: Not a directory")):
        assert main(["export", str(run), "--tensorboard", str(target)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err == f"error: cannot export {run}: {target} {reason}" + (
            "; give the folder itself" if reason == "is a symlink" else "") + "\n"
    assert not list((tmp_path / "real").iterdir())


def test_cli_reports_a_failed_write_in_one_line(run, capsys, monkeypatch):
    import engine.tensorboard_export as module

    def full(path, writer):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(module, "write_with", full)
    assert main(["export", str(run), "--tensorboard"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot export {run}: {run / 'tensorboard'}/events.out.tfevents.")
    assert err.endswith(": No space left on device\n") and err.count("\n") == 1


def test_cli_missing_run_and_other_forms(tmp_path, run, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--tensorboard"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot export {tmp_path / 'nothing'}: {tmp_path / 'nothing' / 'events.jsonl'}: " \
                  "No such file or directory\n"
    assert not (tmp_path / "nothing").exists()  # no folder made for a run that is not there
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run), "--csv", "--tensorboard"])
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main(["export", str(run), "--tensorboard", str(run / "tb")]) == 0
    capsys.readouterr()
    (run / "tb" / "events.out.tfevents.1.other.v2").write_bytes(b"")
    assert main(["export", str(run), "--tensorboard", str(run / "tb")]) == 0
    assert "also holds events.out.tfevents.1.other.v2: TensorBoard shows" in capsys.readouterr().err
