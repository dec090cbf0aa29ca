"""One container per tab: each composes its views and draws them from the one `MonitorState` when their
data changed and the tab is shown. Adding a tab is adding a file here and a line in the App's compose."""
from .backprop import BackpropPane
from .digits import DigitsPane
from .errors import ErrorsPane
from .graph import GraphPane
from .lab import LabPane
from .layers import LayersPane
from .monitor import MonitorPane
from .pane import Pane
from .settings import SettingsPane

__all__ = ["BackpropPane", "DigitsPane", "ErrorsPane", "GraphPane", "LabPane", "LayersPane", "MonitorPane", "Pane", "SettingsPane"]
