"""`python -m engine`: output, exit codes and messages."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.idx import write_idx
from tests.conftest import ROOT, make_dataset


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run directories go to ./runs: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    toy = make_dataset(n_train=200, n_test=50, side=28)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", toy.x_train.reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", toy.t_train)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", toy.x_test.reshape(-1, 28, 28))  # uncompressed works too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", toy.t_test)
    return tmp_path


def test_train_prints_epochs_and_summary(data_dir, capsys):
    code = main(["train", "--data-dir", str(data_dir), "--iters", "20", "--batch-size", "50",
                 "--hidden", "16", "--weight-init", "he"])
    out = capsys.readouterr().out
    assert code == 0
    assert "200 train / 50 test; network 784-16-10 relu, sgd lr 0.1, batch 50" in out
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 6  # before training and after each of 5 epochs (4 batches each)
    assert "iter      20" in epoch_lines[-1] and "test acc" in epoch_lines[-1]
    assert "done: 20 iterations" in out
    # Both rates are of whole work (steps, scoring, checkpoints), so they agree; one step's speed did not.
    last_epoch_rate = float(epoch_lines[-1].split()[-2].replace(",", ""))
    summary_rate = float(out.split("done:")[1].split("(")[1].split()[0].replace(",", ""))
    assert summary_rate / 2 < last_epoch_rate < summary_rate * 2


def test_optimizer_default_lr_and_gradcheck_every(data_dir, capsys):
    code = main(["train", "--data-dir", str(data_dir), "--iters", "4", "--batch-size", "50",
                 "--optimizer", "adam", "--gradcheck-every", "4", "--hidden", "12,8"])
    out = capsys.readouterr().out
    assert code == 0
    assert "784-12-8-10" in out and "adam lr 0.001" in out
    assert "gradient check at iteration 4" in out
    assert [line.split()[0] for line in out.splitlines() if line.strip().endswith("pass")] == \
        ["W1", "b1", "W2", "b2", "W3", "b3"]


def test_gradcheck_command_prints_table(data_dir, capsys):
    assert main(["gradcheck", "--data-dir", str(data_dir), "--hidden", "10"]) == 0
    out = capsys.readouterr().out
    assert "gradient check of 784-10-10 on 3 samples" in out
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(("pass", "FAIL"))]
    assert [r[0] for r in rows] == ["W1", "b1", "W2", "b2"]
    assert all(float(r[1]) < 1e-8 and r[-1] == "pass" for r in rows)


def test_gradcheck_sampled(data_dir, capsys):
    assert main(["gradcheck", "--data-dir", str(data_dir), "--hidden", "10", "--sample", "100"]) == 0
    assert "100/7,840" in capsys.readouterr().out


@pytest.mark.parametrize("argv, flag", [
    (["--lr", "-1"], "--lr"),
    (["--lr", "abc"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--hidden", "50,x"], "--hidden"),
    (["--hidden", "0"], "--hidden"),
    (["--weight-init", "big"], "--weight-init"),
    (["--optimizer", "rmsprop"], "--optimizer"),
    (["--iters", "-3"], "--iters"),
])
def test_bad_argument_exits_2_naming_it(data_dir, capsys, argv, flag):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data-dir", str(data_dir), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "Traceback" not in err


def test_missing_or_corrupt_data_exits_1_with_one_line(data_dir, tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.strip() == f"error: data folder {tmp_path / 'nowhere'} does not exist"
    (data_dir / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    assert main(["train", "--data-dir", str(data_dir)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "train-labels-idx1-ubyte.gz" in errors[0] and "corrupt gzip" in errors[0]
    assert all(line.startswith(("error:", "warning:")) for line in lines)  # no traceback



def test_no_data_and_no_mirror_exits_1_naming_what_to_do(tmp_path, monkeypatch, capsys):
    from engine import registry

    monkeypatch.setenv("BACKPROP_TUI_DATA", str(tmp_path / "cache"))
    closed = dataclasses.replace(registry.REGISTRY["mnist"], mirrors=("http://127.0.0.1:9/",))  # nothing listens
    monkeypatch.setitem(registry.REGISTRY, "mnist", closed)
    assert main(["train", "--iters", "1"]) == 1
    err = capsys.readouterr().err
    assert "could not download train-images-idx3-ubyte.gz" in err and "http://127.0.0.1:9/" in err
    assert "--data-dir FOLDER" in err and "Traceback" not in err


def test_module_entry_point_help_documents_every_flag():
    result = subprocess.run([sys.executable, "-m", "engine", "train", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ["--dataset", "--data-dir", "--hidden", "--activation", "--weight-init", "--lr",
                 "--batch-size", "--iters", "--epochs", "--optimizer", "--seed", "--dtype", "--gradcheck-every"]:
        assert flag in result.stdout


def test_engine_imports_no_ui_library():
    code = "import sys, engine, engine.cli, engine.trainer; print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'plotext')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
