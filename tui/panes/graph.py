"""Tab 6: the computational-graph lesson (mounted after the first frame; it takes arrows and letters)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.lazy import Lazy

from ..widgets.computational_graph import ComputationalGraph
from .pane import Pane


class GraphPane(Pane):
    def __init__(self):
        super().__init__("6 Graph", id="graph")

    def compose(self) -> ComposeResult:
        yield Lazy(ComputationalGraph(id="graph-lesson"))

    def focus_target(self) -> ComputationalGraph | None:
        graphs = self.query(ComputationalGraph)
        return graphs.first() if graphs else None

    def escape(self) -> bool:
        return True  # the lesson keeps the keys it uses
