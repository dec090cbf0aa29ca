"""python -m tui show RUN: a run printed once (plots, last gradient check, summary) for CI logs and ssh."""
from __future__ import annotations

import subprocess
import sys

from engine.cli import main as engine_main
from tests.conftest import ROOT
from tests.fakes import write_run
from tui.cli import main


def trained_run(data_dir, tmp_path):
    runs = tmp_path / "runs"
    assert engine_main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--hidden", "16",
                        "--iters", "40", "--gradcheck-every", "20", "--checkpoint-every", "0"]) == 0
    (run,) = runs.iterdir()
    return run


def test_a_finished_run_prints_its_plots_check_and_status_in_80_ascii_columns(data_dir, tmp_path, capsys):
    run = trained_run(data_dir, tmp_path)
    capsys.readouterr()  # the training's own output
    assert main(["show", str(run), "--width", "80", "--height", "12", "--ascii"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert out.isascii() and "\x1b" not in out  # a CI log: no colour, no box-drawing characters
    assert max(len(line) for line in lines) <= 80
    assert lines[0].lstrip().startswith("FINISHED") and "iter 40/40" in lines[0]
    assert "loss per batch (log scale)" in out and "accuracy %" in out
    assert "gradient check at iteration 40" in out
    for name in ("W1", "b1", "W2", "b2"):
        assert any(line.split()[:1] == [name] and line.rstrip().endswith("pass") for line in lines), name
    assert sum(1 for line in lines if line.lstrip().startswith("+--")) == 2  # two plots' bottom frames


def test_a_live_run_and_its_name_in_the_runs_folder(tmp_path, capsys):
    run = write_run(tmp_path, 0.1, [2.3, 1.0, 0.5, 0.2] * 5, [0.5, 0.9], finished=False)
    assert main(["show", run.name, "--runs-dir", str(tmp_path), "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert "iter 20/" in out and "loss per batch" in out and "no gradient check in this run's log yet" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_a_missing_run_or_a_silly_size_is_a_usage_error(tmp_path):
    for argv in (["show", str(tmp_path / "nope")], ["show", str(tmp_path), "--width", "5"]):
        done = subprocess.run([sys.executable, "-m", "tui", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and done.stdout == "" and "show" in done.stderr


def tensorboard_folder(tmp_path):
    from engine import tfevents as tf

    for run, scale in (("a", 1.0), ("b", 2.0)):
        folder = tmp_path / "logs" / run
        folder.mkdir(parents=True)
        records = [tf.frame(tf.event(step, 1.0, [tf.scalar("train/loss", scale / (step + 1)),
                                                 tf.scalar("val/accuracy", step / 100), tf.scalar("lr", 0.1)]))
                   for step in range(100)]
        damaged = bytearray(records[50])
        damaged[-1] ^= 1
        records[50] = bytes(damaged) if run == "b" else records[50]
        (folder / "events.out.tfevents.1.host").write_bytes(b"".join(records))
    return tmp_path / "logs"


def test_a_tensorboard_folder_prints_its_tags_and_the_loss_and_accuracy_plots(tmp_path, capsys):
    logdir = tensorboard_folder(tmp_path)
    assert main(["show", str(logdir), "--width", "80", "--height", "10", "--ascii"]) == 0
    captured = capsys.readouterr()
    out, lines = captured.out, captured.out.splitlines()
    assert out.isascii() and max(len(line) for line in lines) <= 80
    assert " ".join(out.split()).startswith(f"TensorBoard log {logdir} . 2 runs . 3 scalar tags")
    assert "train/loss (log scale)" in out and "val/accuracy" in out and " lr" not in out.split("tag")[0]
    table = out[out.index(" tag "):].splitlines()
    rows = {tuple(line.split()[:3]) for line in table if line.split()[:1] in (["lr"], ["train/loss"])}
    assert rows == {("lr", "a", "100"), ("lr", "b", "99"), ("train/loss", "a", "100"), ("train/loss", "b", "99")}
    row = next(line.split() for line in table if line.split()[:2] == ["train/loss", "b"])
    assert row[3:] == ["99", "0.02", "0.02", "2"]  # last step, last, min, max
    assert "1 damaged record skipped" in captured.err


def test_a_tensorboard_tag_asked_for_and_one_missing(tmp_path, capsys):
    logdir = tensorboard_folder(tmp_path)
    assert main(["show", str(logdir), "--width", "90", "--tag", "lr", "--tag", "nope"]) == 0
    captured = capsys.readouterr()
    assert "lr" in [line.strip() for line in captured.out.splitlines()]  # its plot's title
    assert "train/loss (log scale)" not in captured.out
    assert "no tag 'nope'" in captured.err


def test_a_folder_with_neither_a_run_nor_event_files_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tui", "show", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "no TensorBoard event files" in done.stderr


def test_the_printed_text_at_80_ascii_columns_is_as_recorded(tmp_path, capsys, snapshot, monkeypatch):
    """The whole output, for a finished run and a TensorBoard folder (update: pytest -n 0 --snapshot-update)."""
    run = write_run(tmp_path, 0.1, [2.3 * 0.9 ** i for i in range(60)], [0.4, 0.7, 0.85], finished=True)
    logdir = tensorboard_folder(tmp_path)
    monkeypatch.chdir(tmp_path)  # relative paths: the folder's name in the title is the same in every run
    printed = []
    for target in (run.relative_to(tmp_path), logdir.relative_to(tmp_path)):
        assert main(["show", str(target), "--width", "80", "--height", "12", "--ascii"]) == 0
        printed.append(capsys.readouterr().out)
    assert printed == snapshot
