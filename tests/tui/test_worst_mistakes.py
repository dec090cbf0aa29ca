"""The list of the most confidently wrong test digits (Errors tab), without a terminal."""
from __future__ import annotations

import numpy as np

from engine import events as ev
from engine.config import TrainConfig
from tui.state import MonitorState
from tui.widgets.worst_mistakes import COLUMN, render_worst

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_columns_keep_a_gap_with_long_class_names_and_full_confidence():
    state = MonitorState(TrainConfig())
    state.class_names = FASHION
    labels = np.array([5, 7, 9, 0] * 3)
    state.test_labels = labels
    predicted = 9 - labels
    probabilities = np.zeros((len(labels), 10), dtype=np.float32)
    probabilities[np.arange(len(labels)), predicted] = 1.0  # wrong, and as sure as can be: "100.0%"
    state.apply(ev.TestPredictions(30, predicted, probabilities))
    lines = render_worst(state, width=4 * COLUMN, rows=3).plain.splitlines()[1:]
    assert len(lines) == 3 and all(line.count("100.0%") == 4 for line in lines)
    for line in lines:
        entries = [line[c * COLUMN:(c + 1) * COLUMN] for c in range(4)]
        assert all(e.startswith("#") and e.endswith(" ") for e in entries), line  # each ends in a gap
    text = "".join(lines)
    assert "Ankle→T-shir" in text and "Ankle →" not in text  # a cut name loses its trailing space
