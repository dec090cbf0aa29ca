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
