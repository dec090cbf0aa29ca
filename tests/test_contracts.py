"""The house rules CI enforces: import boundaries (import-linter, pyproject.toml) and a clean ruff check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = (
    "engine imports no UI library",
    "engine imports no TensorFlow, tensorboard or protobuf",
    "the book's core imports no threads, runs, files or config",
    "the data layer imports nothing of training",
    "tui layers",
    "widgets, panes and screens never touch the trainer, run log, control channel, loader or checkpoints",
    "the decisions (controller, pacing, hang-up, notices, settings), state, session, messages and options import no Textual",
)


def test_every_import_contract_is_declared_and_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = " ".join(result.stdout.split())  # long names are wrapped
    for name in CONTRACTS:
        assert f"{name} KEPT" in report, report
    assert result.returncode == 0 and f"Contracts: {len(CONTRACTS)} kept, 0 broken" in report


def test_ruff_finds_nothing():
    pytest.importorskip("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
