"""Tab 7: backprop inside the real network, a layer at a time, for the digit selected in Digits.

The lesson runs the project's own layers (engine/backprop_lesson.py) on a float64 copy of the network's
parameters, asked for when the tab is shown and the run is not running (paused, finished, not started),
or read from the newest checkpoint when attached. f/b step the forward/backward pass, a shows it all,
z starts again; ←/→ pick the digit, +/- the batch size N; v switches "Why this digit?" between the
gradient for the true class and for the predicted one.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll

from engine import events as ev
from engine.backprop_lesson import BACKWARD, FORWARD, Step, Walk, lesson_network, walk
from engine.controls import RunState

from ..options import UiOptions
from ..state import MonitorState
from ..widgets.array_text import (
    class_table,
    heat_map,
    image,
    images_grid,
    labelled_rows,
    mask_strip,
    number,
    scale_note,
    strip,
)
from ..widgets.picture import Picture
from ..widgets.weight_images import signed_text
from .digits import DigitsPane
from .pane import Pane

BATCH_SIZES = (1, 2, 4)  # N: the digits in the lesson's batch
# What each step draws, of the values the engine recorded (every one is a layer's own).
SHOWN = {
    (FORWARD, "Affine"): ("x", "out"),
    (FORWARD, "ReLU"): ("x", "mask", "out"),
    (FORWARD, "Sigmoid"): ("x", "out"),
    (FORWARD, "SoftmaxWithLoss"): ("a", "t", "y"),
    (BACKWARD, "SoftmaxWithLoss"): ("y", "t", "dx"),
    (BACKWARD, "Affine"): ("dout", "dx", "dW", "db"),
    (BACKWARD, "ReLU"): ("dout", "mask", "dx"),
    (BACKWARD, "Sigmoid"): ("dout", "dx"),
}
MEANING = {
    "x": "the layer's input", "out": "its output", "mask": "x > 0: the units that pass",
    "a": "the scores from the last Affine", "y": "the probabilities", "t": "the label, one-hot",
    "dout": "the gradient arriving from the layer after", "dx": "the gradient sent to the layer before",
    "dW": "the weights' gradient", "db": "the biases' gradient",
}
KEYS_HINT = ("f forward · b backward · a all · z again · ←/→ digit · +/- N · v true/predicted class · "
             "↑/↓ scroll")


class BackpropBody(VerticalScroll):
    """The lesson; it has the keys while the tab is shown (↑/↓ scroll, as VerticalScroll's)."""

    BINDINGS = [
        Binding("f", "forward", "Backprop: the forward pass, one layer further", show=False),
        Binding("b", "backward", "Backprop: the backward pass, one layer further", show=False),
        Binding("a", "all", "Backprop: the whole forward and backward pass", show=False),
        Binding("z", "again", "Backprop: start again, before the forward pass", show=False),
        Binding("left", "digit(-1)", "Backprop: the previous digit", show=False),
        Binding("right", "digit(1)", "Backprop: the next digit", show=False),
        Binding("plus,equals_sign", "batch(1)", "Backprop: more digits in the batch (N = 1, 2, 4)", show=False),
        Binding("minus", "batch(-1)", "Backprop: fewer digits in the batch", show=False),
        Binding("v", "target", "Backprop: input gradient for the true / the predicted class", show=False),
    ]

    def __init__(self, pane: BackpropPane, **kwargs):
        super().__init__(**kwargs)
        self.pane = pane

    def action_forward(self) -> None:
        self.pane.step(FORWARD)

    def action_backward(self) -> None:
        self.pane.step(BACKWARD)

    def action_all(self) -> None:
        self.pane.step(None)

    def action_again(self) -> None:
        self.pane.start_again()

    def action_digit(self, step: int) -> None:
        self.pane.next_digit(step)

    def action_batch(self, step: int) -> None:
        self.pane.resize_batch(step)

    def action_target(self) -> None:
        self.pane.toggle_target()


class BackpropPane(Pane):
    def __init__(self, state: MonitorState, digits: DigitsPane, request_parameters: Callable[[], None],
                 ui: UiOptions):
        super().__init__("7 Backprop", id="backprop")
        self.state = state
        self.digits = digits
        self.request_parameters = request_parameters
        self.ascii = ui.ascii
        self.body = BackpropBody(self, id="backprop-body")
        self.view = Picture(id="backprop-view")
        self.taken = 0  # steps shown: the forward ones first, then the backward ones
        self.batch_size = 1
        self.predicted_class = False  # "Why this digit?" for the predicted class instead of the true one
        self.asked: tuple | None = None  # (iteration, state) the parameters were last asked at
        self.key: tuple | None = None  # what the lesson on screen was computed from
        self.lesson: Walk | None = None
        self.missing = ""  # why there is no lesson
        self.pixel_gradient: np.ndarray | None = None  # d loss / d pixel of the first digit, for "Why this digit?"
        self.chosen: ev.Samples | None = None

    def compose(self) -> ComposeResult:
        with self.body:
            yield self.view

    def focus_target(self) -> BackpropBody:
        return self.body

    def shown(self) -> set[str]:
        return {"parameters"}

    def restart(self, state: MonitorState) -> None:
        self.taken, self.asked, self.key, self.lesson = 0, None, None, None

    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        """Ask for parameters on the first show, then whenever the run stands still at a new place (paused,
        stepped, finished); redraw when the lesson's inputs changed. Cheap when nothing did."""
        standing = isinstance(state.state, RunState) and state.state != RunState.RUNNING
        if self.asked is None or standing and (state.iteration, state.state) != self.asked:
            self.asked = (state.iteration, state.state)
            self.request_parameters()
        if "samples" in changed:
            self.digits.draw()  # the lesson's digits are the Digits tab's latest, shown or not
        self.draw(only_if_changed=True)
        return {"parameters"} & changed

    # ---- model ------------------------------------------------------------------------------

    def step(self, direction: str | None) -> None:
        """One step further in `direction` (a backward step finishes the forward pass first); None: all."""
        if self.lesson is not None:
            forward, total = self.lesson.forward_count, len(self.lesson.steps)
            if direction == FORWARD:
                self.taken = min(self.taken + 1, max(self.taken, forward))
            elif direction == BACKWARD:
                self.taken = min(max(self.taken, forward) + 1, total)
            else:
                self.taken = total
        self.draw()

    def start_again(self) -> None:
        self.taken = 0
        self.draw()

    def next_digit(self, step: int) -> None:
        """The next (or previous) digit of the Digits tab, whose selection moves with it."""
        self.digits.move(step)
        self.draw()

    def resize_batch(self, step: int) -> None:
        place = BATCH_SIZES.index(self.batch_size) + step
        self.batch_size = BATCH_SIZES[max(0, min(len(BATCH_SIZES) - 1, place))]
        self.draw()

    def toggle_target(self) -> None:
        self.predicted_class = not self.predicted_class
        self.draw()

    def _refresh_lesson(self) -> bool:
        """Run the lesson again if its inputs (parameters, digits, N, target, width) changed; True if they did."""
        state, parameters = self.state, self.state.parameters
        self.chosen = self.digits.chosen(self.batch_size)
        key = (id(parameters), state.parameters_missing, None if self.chosen is None else
               (id(self.digits.preview.samples), tuple(self.chosen.indices.tolist())), self.predicted_class,
               state.state == RunState.RUNNING, self.body.size.width)
        if key == self.key:
            return False
        self.key, self.lesson, self.missing = key, None, ""
        if parameters is None:
            self.missing = state.parameters_missing or "Asking for the network's parameters..."
        elif self.chosen is None:
            self.missing = "Pick a digit: digits appear in Digits (2) after the first evaluation (e, or space)."
        elif self.chosen.images[0].size != parameters.sizes[0] or self.chosen.labels.max() >= parameters.sizes[-1]:
            self.missing = "These digits do not fit the network (another dataset's): evaluate (e) for fresh ones."
        else:
            net = lesson_network(parameters.sizes, parameters.activation, parameters.params)
            self.lesson = walk(net, self.chosen.images, self.chosen.labels, state.class_names)
            target = self.chosen.predictions[:1] if self.predicted_class else self.chosen.labels[:1]
            self.pixel_gradient = walk(net, self.chosen.images[:1], target).input_gradient[0]
            self.taken = min(self.taken, len(self.lesson.steps))
        return True

    # ---- view -------------------------------------------------------------------------------

    def draw(self, only_if_changed: bool = False) -> None:
        with np.errstate(all="ignore"):  # parameters that overflow show nan and inf, as they are
            self._draw(only_if_changed)

    def _draw(self, only_if_changed: bool) -> None:
        if not self._refresh_lesson() and only_if_changed:
            return
        if self.lesson is None:
            self.view.show(Group(Text(self.missing, style="dim"), Text(KEYS_HINT, style="dim")))
            return
        width = max(self.body.size.width - 2, 40)
        parts: list[RenderableType] = [self.heading(), self.pipeline()]
        if self.taken:
            parts += self.step_view(self.lesson.steps[self.taken - 1], width)
        else:
            parts.append(Text("Press f to run the forward pass one layer at a time (b: backward, a: all).",
                              style="italic"))
        parts += [Text(""), self.why_view(width), Text(KEYS_HINT, style="dim")]
        self.view.show(Group(*parts))

    def heading(self) -> Text:
        p, chosen, names = self.state.parameters, self.chosen, self.state.class_names
        text = Text(f"Backprop on {p.source}, iteration {p.iteration:,} · N={len(chosen.labels)}: ", style="bold")
        for i, (place, label, prediction) in enumerate(zip(chosen.indices.tolist(), chosen.labels.tolist(),
                                                           chosen.predictions.tolist())):
            text.append(("" if not i else ", ") + f"test #{place} (true {names[label]}, predicted {names[prediction]}"
                        + (")" if label == prediction else ", wrong)"), style="" if label == prediction else "red")
        if self.state.state == RunState.RUNNING:
            text.append("\ntraining runs on: these are the parameters of when it last stood still; pause (space) "
                        "to look at the current ones", style="yellow")
        return text

    def pipeline(self) -> Text:
        """The layers in order, each marked as far as the passes have gone; the current step reversed."""
        steps, taken = self.lesson.steps, self.taken
        forward = self.lesson.forward_count
        text = Text("x")
        for i, step in enumerate(steps[:forward]):
            done_forward = i < taken
            back = len(steps) - 1 - i  # this layer's backward step
            done_backward = back < taken
            current = taken and (i == taken - 1 or back == taken - 1)
            style = "red" if done_backward else ("green" if done_forward else "dim")
            text.append(" → ")
            text.append(step.layer, style=f"{style} reverse" if current else style)
        text.append(" → L")
        return text

    def step_view(self, step: Step, width: int) -> list[RenderableType]:
        forward = self.lesson.forward_count
        arrow = (f"▶ forward {self.taken}/{forward}" if step.direction == FORWARD else
                 f"◀ backward {self.taken - forward}/{len(self.lesson.steps) - forward}")
        formulas = Table.grid(padding=(0, 2))
        formulas.add_column(style="bold")
        formulas.add_column()
        for formula, shape in zip(step.formulas, step.shapes, strict=True):
            formulas.add_row(formula, Text(shape, style="cyan"))
        parts: list[RenderableType] = [Text(f"{arrow} · {step.layer}", style="bold underline"), formulas,
                                       Text(step.explanation, style="italic")]
        shown = SHOWN[step.direction, step.kind]
        if step.kind == "SoftmaxWithLoss":
            parts.append(self.class_values(step, shown))
            if step.direction == FORWARD:
                parts.append(Text(f"L = {float(step.values['L']):.6g}"))
            return parts
        for name in shown:
            parts.append(Text(""))
            parts.append(Text(f"{name} ({'×'.join(map(str, step.values[name].shape))}): {MEANING[name]}",
                              style="bold"))
            parts.append(self.values(name, step.values[name], width))
        return parts

    def class_values(self, step: Step, shown: tuple[str, ...]) -> Text:
        names, labels = self.state.class_names, self.lesson.labels
        marked = {int(labels[0]): "← true"}
        if len(labels) == 1:
            return class_table({name: step.values[name][0] for name in shown}, names, marked, shown[-1], self.ascii)
        last = shown[-1]  # several digits: the step's result for each
        return class_table({f"{last} #{i + 1}": row for i, row in enumerate(step.values[last])}, names, {}, None,
                           self.ascii)

    def values(self, name: str, values: np.ndarray, width: int) -> RenderableType:
        sizes = self.state.parameters.sizes
        image_shape = self.chosen.images.shape[1:]
        pixels = sizes[0]
        classes = sizes[-1]
        if values.ndim == 1:
            values = values[None, :]  # a bias gradient: one row
            rows_are_digits = False
        else:
            rows_are_digits = name not in ("W", "dW")
        if rows_are_digits:
            if name == "mask":
                return labelled_rows([mask_strip(row, self.ascii) for row in values], width,
                                     [f"{int(row.sum())} of {row.size} pass" for row in values])
            if values.shape[1] == pixels:
                pictures = [image(row, image_shape, self.ascii) for row in values]
                return Group(images_grid(pictures, [f"#{i + 1}" for i in range(len(values))], width,
                                         image_shape[1]), scale_note(values, self.ascii))
            if values.shape[1] == classes:
                return class_table({f"#{i + 1}": row for i, row in enumerate(values)}, self.state.class_names, {},
                                   "#1" if len(values) == 1 else None, self.ascii)
            biggest = float(np.abs(values).max(initial=0))
            return Group(labelled_rows([strip(row, self.ascii, biggest) for row in values], width),
                         scale_note(values, self.ascii))
        if values.shape[0] == pixels:  # W1, dW1: one picture per unit
            biggest = float(np.abs(values).max(initial=0))  # one scale: a small gradient looks small
            pictures = [signed_text(values[:, j].reshape(image_shape), self.ascii, biggest=biggest)
                        for j in range(values.shape[1])]
            return Group(scale_note(values, self.ascii), images_grid(
                pictures, [f"unit {j + 1}" for j in range(values.shape[1])], width, image_shape[1] // 2))
        if values.shape[0] == 1 and values.shape[1] == classes:
            return class_table({name: values[0]}, self.state.class_names, {}, name, self.ascii)
        if values.shape[0] == 1:
            return Group(labelled_rows([strip(values[0], self.ascii)], width, labels=[name]),
                         scale_note(values, self.ascii))
        return Group(heat_map(values, self.ascii, width), scale_note(values, self.ascii))

    def why_view(self, width: int) -> RenderableType:
        """The selected digit beside d loss / d pixel for the true (or predicted) class."""
        chosen, names = self.chosen, self.state.class_names
        label, prediction = int(chosen.labels[0]), int(chosen.predictions[0])
        target = prediction if self.predicted_class else label
        which = "predicted" if self.predicted_class else "true"
        shape = chosen.images.shape[1:]
        gradient = signed_text(self.pixel_gradient.reshape(shape), self.ascii, half=False)
        grid = images_grid([image(chosen.images[0], shape, self.ascii), gradient],
                           [f"test #{int(chosen.indices[0])}", f"d L / d pixel, t = {names[target]}"], width, shape[1])
        red, blue = ("+ #", "- =") if self.ascii else ("red", "blue")
        return Group(
            Text(f"Why this digit? The loss's gradient on each pixel, for the {which} class {names[target]} "
                 f"(v: the {'true' if self.predicted_class else 'predicted'} class)", style="bold"),
            grid,
            Text(f"{red}: more ink there would raise the loss, making {names[target]} less likely; {blue}: more ink "
                 f"would make it more likely. True {names[label]}, predicted {names[prediction]}"
                 + ("." if label == prediction else ": a mistake.")
                 + f" Largest |gradient|: {number(float(np.abs(self.pixel_gradient).max()))}.", style="italic"),
        )
