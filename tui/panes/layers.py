"""Tab 5: per-layer statistics (histograms, gradient norms, dead units) and the first layer's weights."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll

from ..options import UiOptions
from ..state import MonitorState
from ..widgets.layer_stats import LayerStatsView
from ..widgets.weight_images import WeightImagesView
from .pane import Pane


class LayersBody(VerticalScroll):
    """The statistics above the weight images. It scrolls (up/down) when a deep network's statistics leave
    the images no room (80x24); n/p/left/right/PgUp/PgDn stay the App's, paging the units."""

    inherit_bindings = False
    BINDINGS = [
        Binding("up", "scroll_up", "Layers: scroll up, when the tab is taller than the screen", show=False),
        Binding("down", "scroll_down", "Layers: scroll down, when the tab is taller than the screen", show=False),
    ]


class LayersPane(Pane):
    def __init__(self, ui: UiOptions, missing: dict[str, str]):
        """`missing`: what stands in for a view the session has no data for, by view id."""
        super().__init__("5 Layers", id="layers")
        placeholder = {"placeholder": missing["weight-images"]} if "weight-images" in missing else {}
        self.layer_stats = LayerStatsView(id="layer-stats", ascii=ui.ascii)
        self.weight_images = WeightImagesView(id="weight-images", ascii=ui.ascii, **placeholder)
        self.body = LayersBody(id="layers-body")

    def compose(self) -> ComposeResult:
        with self.body:
            yield self.layer_stats
            yield self.weight_images

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        if "layers" not in changed:
            return set()
        self.layer_stats.show(state)
        self.weight_images.show(state.weight_images)
        return {"layers"}

    def shown(self) -> set[str]:
        return {"layers"}

    def restart(self, state: MonitorState) -> None:
        self.layer_stats.show(state)
        self.weight_images.show(None)

    def focus_target(self) -> LayersBody:
        return self.body

    def page(self, step: int) -> None:
        self.weight_images.next_page(step)
