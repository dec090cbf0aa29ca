"""Checkpoints from a damaged disk or a hostile user: each is refused with its reason (CheckpointError),
within bounded memory, and a resume uses the previous checkpoint instead. Hostile files are made by
saving a real checkpoint and rewriting its members; nothing here unpickles."""
from __future__ import annotations

import functools
import io
import json
import os
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as ev
from engine.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from engine.cli import main
from engine.config import TrainConfig
from engine.runs import RunLog, checkpoints, latest_checkpoint, read_events, truncate_log
from engine.trainer import Trainer
from tests.conftest import EventLog, fuzz_examples, make_dataset, mnist_folder

# 400 toy samples in batches of 40: an epoch is 10 iterations, so 15 leave a half-done epoch (cursor 200).
CONFIG = TrainConfig(hidden_sizes=(8,), optimizer="adam", lr=0.01, batch_size=40, iters=15, weight_init="he",
                     preview_count=0)
MEMORY_BOUND = 100 << 20  # bytes: far below what the hostile files below claim


def trained(config: TrainConfig = CONFIG) -> Trainer:
    trainer = Trainer(make_dataset(), config)
    trainer.start()
    assert trainer.join(timeout=30)
    return trainer


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A real checkpoint of a 16-8-10 Adam network after 15 iterations (its optimizer arrays saved too)."""
    path = tmp_path_factory.mktemp("good") / "ckpt-000000015.npz"
    save_checkpoint(path, trained().checkpoint())
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_members(path: Path, items, compression=zipfile.ZIP_STORED) -> Path:
    """An .npz of `items` ((member name, bytes) pairs, or a dict), written as given."""
    with zipfile.ZipFile(path, "w", compression, compresslevel=1) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": one case writes a member twice on purpose
        for name, data in (items.items() if isinstance(items, dict) else items):
            archive.writestr(name, data)
    return path


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def meta_of(found: dict[str, bytes]) -> dict:
    return json.loads(str(np.lib.format.read_array(io.BytesIO(found["meta.npy"]), allow_pickle=False)))


def with_meta(found: dict[str, bytes], meta) -> dict[str, bytes]:
    return {**found, "meta.npy": npy(np.array(json.dumps(meta)))}


def array_of(found: dict[str, bytes], name: str) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(found[f"{name}.npy"]), allow_pickle=False)


def header_only(shape: tuple[int, ...], descr: str, data: bytes) -> bytes:
    """A .npy member whose header claims `shape` over whatever `data` is."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


# ---- each hostile case, refused with its reason ------------------------------------------------------


def set_meta(*path_and_value):
    *path, value = path_and_value

    def change(found):
        meta = meta_of(found)
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return with_meta(found, meta)
    return change


def set_array(name: str, make):
    return lambda found: {**found, f"{name}.npy": npy(make(array_of(found, name)))}


def drop(name: str):
    return lambda found: {k: v for k, v in found.items() if k != f"{name}.npy"}


def with_nan(a):
    a = a.copy()
    a.flat[3] = np.nan
    return a


def repeated(order):
    order = order.copy()
    order[1] = order[0]
    return order


def out_of_range(order):
    order = order.copy()
    order[order.argmax()] = len(order)
    return order


CASES = {
    "a parameter of the wrong shape": (set_array("param/W1", lambda a: a.T.copy()),
                                       r"param/W1 is float32 \(8, 16\), expected float32 \(16, 8\)"),
    "a missing parameter": (drop("param/b2"), r"arrays missing: \['param/b2'\]"),
    "an unexpected array": (lambda found: {**found, "evil.npy": npy(np.zeros(3))}, r"unexpected: \['evil'\]"),
    "complex parameters": (set_array("param/W1", lambda a: a.astype(np.complex64)), "param/W1 is complex64"),
    "float64 parameters in a float32 run": (set_array("param/b1", lambda a: a.astype(np.float64)),
                                            "param/b1 is float64"),
    "a NaN parameter": (set_array("param/W2", with_nan), "param/W2 holds NaN or infinite values"),
    "an infinite optimizer array": (set_array("opt/v/b1", lambda a: np.full_like(a, np.inf)), "opt/v/b1 holds NaN"),
    "a missing optimizer array": (drop("opt/m/W1"), r"arrays missing: \['opt/m/W1'\]"),
    "Adam's arrays in a momentum run": (set_meta("config", "optimizer", "momentum"), r"unexpected: \['opt/m/W1'"),
    "order out of the training set": (set_array("order", out_of_range), r"outside 0\.\.399"),
    "order repeating a sample": (set_array("order", repeated), "not a shuffle"),
    "order as floats": (set_array("order", lambda a: a.astype(np.float64)), "order is float64"),
    "order empty": (set_array("order", lambda a: a[:0]), r"order is int64 \(0,\)"),
    "meta as a list": (lambda found: with_meta(found, [1, 2, 3]), "meta: not a JSON object"),
    "meta nested 100k deep": (lambda found: {**found, "meta.npy": npy(np.array("[" * 100_000))},
                              "meta: not a JSON text of at most 65,536 characters"),
    "meta nested 30k deep (within the size bound)": (
        lambda found: {**found, "meta.npy": npy(np.array("[" * 30_000 + "]" * 30_000))}, "meta: nested too deeply"),
    "meta not JSON": (lambda found: {**found, "meta.npy": npy(np.array("{'format': 1"))}, "meta: not JSON"),
    "meta as numbers": (lambda found: {**found, "meta.npy": npy(np.zeros(4))}, "meta: not a JSON text"),
    "meta missing": (drop("meta"), "meta: not a JSON text"),
    "a meta field missing": (lambda found: with_meta(found, {k: v for k, v in meta_of(found).items()
                                                              if k != "cursor"}), "meta: fields"),
    "an extra meta field": (lambda found: with_meta(found, {**meta_of(found), "run": "me"}), "meta: fields"),
    "another format": (set_meta("format", 2), "checkpoint format 2, expected 1"),
    "format true": (set_meta("format", True), "checkpoint format True, expected 1"),
    "iteration -5": (set_meta("iteration", -5), "iteration -5 is not a whole number from 0"),
    "iteration as text": (set_meta("iteration", "15"), "iteration '15' is not a whole number"),
    "iteration as a float": (set_meta("iteration", 15.0), "iteration 15.0 is not a whole number"),
    "more epochs than iterations": (set_meta("epochs_done", 16), "epochs_done 16 is not a whole number from 0 to 15"),
    "a cursor past the order": (set_meta("cursor", 401), "cursor 401 is not a whole number from 0 to 400"),
    "config as a list": (set_meta("config", [1]), "config: not an object of training settings"),
    "an unknown setting": (set_meta("config", "shell", "rm -rf"), "config: not an object of training settings"),
    "a bad setting": (set_meta("config", "lr", -1), "config: learning rate must be a number"),
    "an unhashable dataset name": (set_meta("config", "dataset", [1]), "config: "),
    "a weight init too big for a float": (set_meta("config", "weight_init", 10**400), "config: weight init"),
    "an architecture that is not one": (set_meta("architecture", "16-x-10"), "architecture '16-x-10' is not"),
    "an architecture with other hidden sizes": (set_meta("architecture", "16-9-10"), "disagrees with hidden sizes"),
    "an architecture of 5000 classes": (set_meta("architecture", "16-8-5000"), "at most 65,536 inputs and 1000"),
    "an architecture in other digits": (set_meta("architecture", "16-\u0668-10"), "is not input-hidden"),
    "rng_state as text": (set_meta("rng_state", "x"), "rng_state 'x' is not a PCG64 state"),
    "rng_state empty": (set_meta("rng_state", {}), "is not a PCG64 state"),
    "rng_state of another generator": (set_meta("rng_state", "bit_generator", "MT19937"), "is not a PCG64 state"),
    "rng_state negative": (set_meta("rng_state", "state", "state", -1), "is not a PCG64 state"),
    "rng_state too big": (set_meta("rng_state", "state", "inc", 2**200), "is not a PCG64 state"),
    "rng_state a float": (set_meta("rng_state", "state", "state", 1.5), "is not a PCG64 state"),
    "rng_state with an extra key": (set_meta("rng_state", "extra", 1), "is not a PCG64 state"),
    "optimizer scalars as a list": (set_meta("optimizer_scalars", []), r"adam keeps \['iter'\]"),
    "an optimizer scalar as text": (set_meta("optimizer_scalars", "iter", "x"), "optimizer_scalars.iter 'x'"),
    "a negative optimizer scalar": (set_meta("optimizer_scalars", "iter", -1), "optimizer_scalars.iter -1"),
    "more Adam steps than iterations": (set_meta("optimizer_scalars", "iter", 16), "optimizer_scalars.iter 16"),
    "an optimizer scalar it does not keep": (set_meta("optimizer_scalars", "lr", 5), r"adam keeps \['iter'\]"),
    "a member twice": (lambda found: [*found.items(), ("param/W1.npy", found["param/W1.npy"])], "appears twice"),
    "a negative dimension": (lambda found: {**found, "param/b1.npy": header_only((-1, -8), "<f4", bytes(32))},
                             "an impossible shape"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_hostile_case_is_refused_with_its_reason(good, tmp_path, case):
    change, reason = CASES[case]
    path = tmp_path / "ckpt-000000015.npz"
    write_members(path, change(members(good)))
    with pytest.raises(CheckpointError, match=reason) as refused:
        load_checkpoint(path)
    assert str(refused.value).startswith(f"{path}: not a ")


def raw_member(header: str, data: bytes = bytes(16)) -> bytes:
    """A version 1.0 .npy member with `header` as its header text, as written, padded as numpy pads it."""
    text = header.encode("latin1")
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


HEADERS = {  # numpy parses a header as a Python literal: each of these once escaped, or could
    "unbalanced brackets": "{'descr': (",  # a TokenError from numpy's fallback parser
    "a 3,000-deep unary minus": "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "-" * 3000 + "1,)}",
    "300-deep parentheses": "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + "}",
    "a 100-digit dimension": "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 100 + ",)}",
    "a 2**70 dimension": "{'descr': '<f4', 'fortran_order': False, 'shape': (2**70,)}",
    "a subarray dtype": "{'descr': ('<f4', (16, 8)), 'fortran_order': False, 'shape': ()}",
    "a structured dtype": "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (16, 8)}",
    "dates": "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (16, 8)}",
    "a text dtype of 10**11 characters": "{'descr': '<U99999999999', 'fortran_order': False, 'shape': ()}",
    "not a dict": "[1, 2, 3]",
}


@pytest.mark.parametrize("case", HEADERS)
def test_hostile_array_headers_are_refused(good, tmp_path, case):
    path = write_members(tmp_path / "ckpt.npz", {**members(good), "param/W1.npy": raw_member(HEADERS[case])})
    with pytest.raises(CheckpointError, match=r"'param/W1.npy': (not a readable array header|an impossible shape|"
                                              r"holds .* values|its header claims)"):
        load_checkpoint(path)


def test_the_unchanged_checkpoint_loads_and_resumes(good):
    checkpoint = load_checkpoint(good)
    assert (checkpoint.iteration, checkpoint.epochs_done, checkpoint.cursor) == (15, 1, 200)
    assert sorted(checkpoint.optimizer_arrays) == sorted(f"{s}/{p}" for s in "mv" for p in ("W1", "b1", "W2", "b2"))
    assert Trainer.from_checkpoint(make_dataset(), checkpoint).iteration == 15


def peak_bytes_while(function) -> int:
    tracemalloc.start()
    try:
        function()
    except CheckpointError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_header_claiming_8_terabytes_is_refused_before_any_allocation(good, tmp_path):
    path = write_members(tmp_path / "ckpt.npz", {**members(good),
                                                 "param/W1.npy": header_only((2**40,), "<f8", bytes(16))})
    with pytest.raises(CheckpointError, match="claims 8,796,093,022,208 bytes of data; the member holds 16"):
        load_checkpoint(path)
    assert peak_bytes_while(lambda: load_checkpoint(path)) < MEMORY_BOUND


def test_a_small_file_expanding_to_256_mib_is_refused_before_expanding(good, tmp_path):
    """A consistent checkpoint of a 16-4096-8192-10 float64 network whose 256 MiB W2 is deflated zeros:
    every header agrees with the meta, and the file is about 1 MB; only reading it would find out."""
    found = members(good)
    meta = meta_of(found)
    meta["config"].update(hidden_sizes=[4096, 8192], dtype="float64", optimizer="sgd")
    meta.update(architecture="16-4096-8192-10", optimizer_scalars={})
    shapes = {"W1": (16, 4096), "b1": (4096,), "b2": (8192,), "W3": (8192, 10), "b3": (10,)}
    items = {"meta.npy": npy(np.array(json.dumps(meta))), "order.npy": found["order.npy"]}
    items.update({f"param/{k}.npy": header_only(s, "<f8", bytes(8 * int(np.prod(s)))) for k, s in shapes.items()})
    path = tmp_path / "ckpt.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in items.items():
            archive.writestr(name, data)
        with archive.open("param/W2.npy", "w") as member:  # streamed: the test holds 16 MiB at a time
            member.write(header_only((4096, 8192), "<f8", b""))
            for _ in range(16):
                member.write(bytes(16 << 20))
    assert path.stat().st_size < 2 << 20
    with pytest.raises(CheckpointError, match="compressed"):
        load_checkpoint(path)
    assert peak_bytes_while(lambda: load_checkpoint(path)) < MEMORY_BOUND


# ---- resuming past damaged checkpoints ----------------------------------------------------------------


def test_latest_checkpoint_says_why_and_uses_the_previous(good, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-000000010.npz").write_bytes(good.read_bytes())
    damaged = write_members(run / "checkpoints" / "ckpt-000000020.npz", CASES["complex parameters"][0](members(good)))
    warnings = []
    assert latest_checkpoint(run, warn=warnings.append).iteration == 15
    assert warnings == [f"{damaged}: not a usable checkpoint (param/W1 is complex64 (16, 8), expected float32 "
                        "(16, 8)); trying the previous checkpoint"]


def test_a_fifo_or_a_symlink_named_as_the_newest_checkpoint_is_passed_over_without_blocking(good, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-000000010.npz").write_bytes(good.read_bytes())
    (run / "checkpoints" / "ckpt-000000020.npz").symlink_to(good)
    os.mkfifo(run / "checkpoints" / "ckpt-000000030.npz")  # opened as a file, it would block until written
    warnings = []
    assert latest_checkpoint(run, warn=warnings.append).iteration == 15
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "not a readable checkpoint (not a regular file); trying the previous checkpoint",
        "not a readable checkpoint (Too many levels of symbolic links); trying the previous checkpoint"]


def train(data_dir, runs, *extra) -> int:
    return main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--hidden", "16",
                 "--batch-size", "40", "--weight-init", "he", "--checkpoint-every", "0", *extra])


def batch_iterations(run: Path) -> list[int]:
    return [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"]


@pytest.mark.parametrize("damage, reason", [
    (set_meta("iteration", -5), "iteration -5 is not a whole number"),  # it once wiped the run's log
    (set_array("param/W1", lambda a: a[:100]), "param/W1 is float32 (100, 16), expected float32 (784, 16)"),
])
def test_resume_past_a_damaged_latest_checkpoint_keeps_the_log(data_dir, tmp_path, capsys, damage, reason):
    runs = tmp_path / "runs"
    assert train(data_dir, runs, "--iters", "25") == 0  # checkpoints at 10, 20 and 25
    (run,) = runs.iterdir()
    latest = checkpoints(run)[-1]
    write_members(latest, damage(members(latest)))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--data-dir", str(data_dir), "--iters", "30"]) == 0
    warning = capsys.readouterr().err
    assert f"{latest}: not a usable checkpoint" in warning and "trying the previous checkpoint" in warning
    assert reason in warning
    assert batch_iterations(run) == list(range(1, 31))  # resumed at 20: one curve, nothing wiped


def test_a_checkpoint_ahead_of_its_log_is_used(data_dir, tmp_path):
    """A kill can lose the last second of batch records, not the checkpoint written before it."""
    runs = tmp_path / "runs"
    assert train(data_dir, runs, "--iters", "25") == 0
    (run,) = runs.iterdir()
    truncate_log(run, 22)  # the records after 22 lost, the checkpoint at 25 not
    assert main(["train", "--resume", str(run), "--data-dir", str(data_dir), "--iters", "30"]) == 0
    assert batch_iterations(run) == [*range(1, 23), *range(26, 31)]


def test_resume_with_every_checkpoint_damaged_is_one_line_and_exit_1(data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert train(data_dir, runs, "--iters", "20") == 0
    (run,) = runs.iterdir()
    for path in checkpoints(run):
        write_members(path, set_meta("iteration", -5)(members(path)))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--data-dir", str(data_dir)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    assert errors == [f"error: cannot resume: {run}: none of its 2 checkpoints can be read"]


def test_resume_on_a_training_set_of_another_size_is_one_line_and_exit_1(data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert train(data_dir, runs, "--iters", "10") == 0
    (run,) = runs.iterdir()
    smaller = mnist_folder(tmp_path / "smaller", make_dataset(n_train=300, n_test=100, side=28))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--data-dir", str(smaller)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    assert errors == ["error: the checkpoint was trained on 400 samples; this dataset has 300"]


# ---- stale temp files --------------------------------------------------------------------------------


def test_opening_a_run_removes_only_its_own_stale_checkpoint_temp_files(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    elsewhere.mkdir()
    stale = [".ckpt-000000010.npz.abc_d123.tmp", ".ckpt-000000012-manual.npz.zz99yy88.tmp"]
    kept = ["ckpt-000000010.npz", ".ckpt-000000010.npz.tmp", ".notes.txt.abcd1234.tmp", ".ckpt-1.npz.abcdefghi.tmp"]
    for name in stale + kept:
        (folder / name).write_bytes(b"x")
    (elsewhere / "mine").write_text("not the run's")
    (folder / ".ckpt-000000020.npz.link0000.tmp").symlink_to(elsewhere / "mine")
    (folder / ".ckpt-000000030.npz.dir00000.tmp").mkdir()
    (run / ".samples.npz.abcd1234.tmp").write_bytes(b"x")  # outside the checkpoints folder
    RunLog(run).close()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        kept + [".ckpt-000000020.npz.link0000.tmp", ".ckpt-000000030.npz.dir00000.tmp"])
    assert (elsewhere / "mine").read_text() == "not the run's" and (run / ".samples.npz.abcd1234.tmp").exists()


def test_a_checkpoints_folder_that_is_a_symlink_is_left_alone(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    (elsewhere / ".ckpt-000000010.npz.abcd1234.tmp").write_bytes(b"x")
    (run / "checkpoints").symlink_to(elsewhere)
    RunLog(run).close()
    assert os.listdir(elsewhere) == [".ckpt-000000010.npz.abcd1234.tmp"]


# ---- fuzz: only CheckpointError escapes, and what loads resumes ----------------------------------------

FUZZ = settings(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)
# Values a field could plausibly hold, so that some mutations are accepted and must then resume.
PLAUSIBLE = st.sampled_from(["sgd", "momentum", "adagrad", "adam", "relu", "sigmoid", "float64", "he", "0.5",
                             "16-8-10", "16-9-10", "mnist", "kmnist", 0, 1, 2, 15, 199, 200, 400, 2**64, 0.5, None])
DTYPES = ["<f4", "<f8", ">f4", "<f2", "<c8", "<i8", "<i4", "<u1", "|b1", "<U3"]


def key_paths(value, prefix=()):
    """Every place in a JSON value: () for the whole, then each key or index, depth first."""
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from key_paths(child, (*prefix, key))


def mutate(value, path, new):
    """`value` with the place at `path` replaced by `new` (deleted when `new` is the string "<delete>")."""
    if not path:
        return new
    value = value.copy()
    if len(path) == 1 and new == "<delete>":
        del value[path[0]]
    else:
        value[path[0]] = mutate(value[path[0]], path[1:], new)
    return value


@st.composite
def mutated_meta(draw, meta: dict):
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(list(key_paths(meta))))
        meta = mutate(meta, path, draw(PLAUSIBLE | JSON | st.just("<delete>")))
    return meta


@st.composite
def mutated_array(draw, array: np.ndarray) -> np.ndarray:
    kind = draw(st.sampled_from(["values", "dtype", "shape", "order"]))
    if kind == "dtype":
        return array.astype(np.dtype(draw(st.sampled_from(DTYPES))))
    if kind == "shape":
        shape = draw(st.lists(st.integers(0, 20), max_size=3))
        return np.resize(array, shape).astype(array.dtype)
    array = array.copy()
    if array.size == 0:
        return array
    index = draw(st.integers(0, array.size - 1))
    if kind == "order":  # swap two entries: a shuffle still, when it is the order
        other = draw(st.integers(0, array.size - 1))
        array.flat[index], array.flat[other] = array.flat[other], array.flat[index]
    elif array.dtype.kind == "f":
        array.flat[index] = draw(st.floats(width=8 * min(array.dtype.itemsize, 8)))
    elif array.dtype.kind in "iu":
        array.flat[index] = draw(st.integers(np.iinfo(array.dtype).min, np.iinfo(array.dtype).max))
    return array


@functools.cache
def base(path: Path) -> tuple[dict[str, bytes], dict]:
    """The good checkpoint's members and meta, read once for all examples."""
    found = members(path)
    return found, meta_of(found)


def resumes_or_is_refused(path: Path) -> None:
    """The property: load_checkpoint raises CheckpointError, or gives a checkpoint that resumes and trains."""
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError:
        return
    assert isinstance(checkpoint, Checkpoint)
    log = EventLog()
    try:
        trainer = Trainer.from_checkpoint(make_dataset(), checkpoint, log)
    except CheckpointError as exc:  # a consistent checkpoint, of a training set of another size
        assert "trained on" in str(exc)
        return
    trainer.start(paused=True)
    trainer.step()
    log.wait_for(lambda events: any(isinstance(e, (ev.BatchDone, ev.Finished, ev.Diverged, ev.Failed))
                                    for e in events), timeout=30)
    assert trainer.stop()
    assert not log.of(ev.Failed), log.of(ev.Failed)


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "ckpt-000000015.npz"


@settings(FUZZ, max_examples=fuzz_examples(200))
@given(data=st.data())
def test_fuzz_meta(good, fuzz_path, data):
    found, meta = base(good)
    write_members(fuzz_path, with_meta(found, data.draw(mutated_meta(meta))))
    resumes_or_is_refused(fuzz_path)


@settings(FUZZ, max_examples=fuzz_examples(125))
@given(data=st.data())
def test_fuzz_arrays(good, fuzz_path, data):
    found = dict(base(good)[0])
    names = sorted(name.removesuffix(".npy") for name in found if name != "meta.npy")
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        found[f"{name}.npy"] = npy(data.draw(mutated_array(array_of(found, name))))
    write_members(fuzz_path, found)
    resumes_or_is_refused(fuzz_path)


@settings(FUZZ, max_examples=fuzz_examples(100))
@given(data=st.data())
def test_fuzz_bytes(good, fuzz_path, data):
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.just(len(raw)) | st.integers(1, len(raw)))  # whole, or cut short
    fuzz_path.write_bytes(bytes(raw[:cut]))
    resumes_or_is_refused(fuzz_path)


HEADER_PARTS = st.sampled_from(["{", "}", "(", ")", "[", "]", "'descr'", "'shape'", "'fortran_order'", ": ", ", ",
                                "'<f4'", "'<f8'", "'|O'", "'<U9'", "True", "False", "-", "8", "16", "2**70", "1e9"])


@settings(FUZZ, max_examples=fuzz_examples(75))
@given(parts=st.lists(HEADER_PARTS, max_size=30), shape=st.lists(st.integers(-5, 2**65), max_size=3),
       garble=st.booleans())
def test_fuzz_array_headers(good, fuzz_path, parts, shape, garble):
    header = "".join(parts) if garble else f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    write_members(fuzz_path, {**base(good)[0], "param/W1.npy": raw_member(header)})
    resumes_or_is_refused(fuzz_path)
