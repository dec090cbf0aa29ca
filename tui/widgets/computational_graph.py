"""The computational-graph lesson: the book's apple examples drawn as graphs, editable, stepped backward.

Each edge shows its forward value on the line and, under it in red, the
price's derivative with respect to it, revealed one node at a time as the
backward pass goes from the price back to the inputs. The numbers come from
engine.graph_lesson, which runs the project's own MulLayer and AddLayer.
"""
from __future__ import annotations

from itertools import groupby

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.widgets import Input, Label, Static

from engine.graph_lesson import (
    APPLE,
    APPLE_ORANGE,
    EXAMPLES,
    BackwardStep,
    Example,
    Graph,
    GraphInputError,
    parse_value,
)

LINE_STYLE = "bright_black"
VALUE_STYLE = "bold"
GRADIENT_STYLE = "bold red"
UNREACHED = "?"  # a gradient the backward pass has not reached yet
UNREACHED_STYLE = "dim red"
NODE_STYLE = "cyan"
CURRENT_NODE_STYLE = "bold black on yellow"  # the node whose backward step was just taken
BOX = ("╭───╮", "┤ {} ├", "╰───╯")
BOX_WIDTH = 5
# An edge: "── value ─" then the join (or the arrow): the value sits VALUE_OFFSET columns in.
VALUE_OFFSET = 3
EDGE_EXTRA = 5  # columns of an edge besides its value
# Every example's inputs are among the apples-and-oranges ones; one field each, hidden when unused.
FIELD_NAMES = APPLE_ORANGE.inputs
SCROLL_ACTIONS = {
    "scroll_up": "vertical", "scroll_down": "vertical", "scroll_home": "vertical", "scroll_end": "vertical",
    "page_up": "vertical", "page_down": "vertical", "scroll_left": "horizontal", "scroll_right": "horizontal",
    "page_left": "horizontal", "page_right": "horizontal",
}
KEYS_HINT = ("[b]b[/] back one node · [b]a[/] all · [b]z[/] reset · [b]v[/] other example · "
             "[b]Tab[/] edit, [b]Enter[/] apply")


def number(value: float) -> str:
    return f"{value + 0.0:.6g}"  # + 0.0 turns -0.0 into 0.0


def all_gradients(example: Example, steps: tuple[BackwardStep, ...]) -> dict[str, float]:
    """d price / d edge for every edge: the price's own gradient, 1, and what each step sent back."""
    gradients = {example.output: 1.0}
    for step in steps:
        gradients.update(step.grads)
    return gradients


def draw_graph(example: Example, values: dict[str, float], steps: tuple[BackwardStep, ...], taken: int) -> Text:
    """The graph in box-drawing characters, with the gradients of the first `taken` backward steps shown.

    Edges run left to right. A node sits on the row of its second input, its
    first input drops into it from above, so the inputs are listed top to
    bottom and every edge gets two rows: its line (with the forward value) and
    the gradient under it. Nodes at the same distance from the inputs share a
    column; each column of values is as wide as its widest number, so the
    drawing does not move as gradients are revealed.
    """
    producer = {node.output: node for node in example.nodes}
    consumer = {edge: node for node in example.nodes for edge in node.inputs}
    gradients = all_gradients(example, steps)
    revealed = {example.output}.union(*(step.grads for step in steps[:taken]))
    current = steps[taken - 1] if taken else None

    row: dict[str, int] = {}
    level: dict[str, int] = {}  # 0 for an input, else 1 + the highest level of its node's inputs
    inputs_placed: list[str] = []

    def place(edge: str) -> None:
        if edge not in producer:
            row[edge], level[edge] = 2 * len(inputs_placed), 0
            inputs_placed.append(edge)
            return
        node = producer[edge]
        for source in node.inputs:
            place(source)
        row[edge], level[edge] = row[node.inputs[1]], 1 + max(level[source] for source in node.inputs)

    place(example.output)
    top = level[example.output]
    value_width = [0] * (top + 1)
    for edge, lvl in level.items():
        value_width[lvl] = max(value_width[lvl], len(number(values[edge])), len(number(gradients[edge])))
    label_width = max(len(example.labels[edge]) for edge in example.inputs)
    start = [label_width + 1]  # where each level's edges begin
    join = [0]  # the column where level k's nodes take their inputs in
    for k in range(1, top + 1):
        join.append(start[k - 1] + value_width[k - 1] + EDGE_EXTRA)
        start.append(join[k] + 2 + BOX_WIDTH)
    arrow = start[top] + value_width[top] + EDGE_EXTRA
    out_label = example.labels[example.output]
    canvas = Canvas(2 * len(example.inputs), arrow + 2 + len(out_label))

    for edge, lvl in level.items():
        r = row[edge]
        line_from = len(example.labels[edge]) + 1 if lvl == 0 else start[lvl]
        line_to = join[level[consumer[edge].output]] if edge in consumer else arrow
        if lvl == 0:
            canvas.put(r, 0, example.labels[edge])
        canvas.put(r, line_from, "─" * (line_to - line_from), LINE_STYLE)
        value_at = start[lvl] + VALUE_OFFSET
        canvas.put(r, value_at - 1, f" {number(values[edge])} ", VALUE_STYLE)  # a gap in the line either side
        if edge in revealed:
            canvas.put(r + 1, value_at, number(gradients[edge]), GRADIENT_STYLE)
        else:
            canvas.put(r + 1, value_at, UNREACHED, UNREACHED_STYLE)
        if edge not in consumer:
            canvas.put(r, arrow, "▶ " + out_label, LINE_STYLE)
        elif edge == consumer[edge].inputs[0]:  # drops from above into its node
            node_row = row[consumer[edge].output]
            canvas.put(r, line_to, "┐", LINE_STYLE)
            for between in range(r + 1, node_row):
                canvas.put(between, line_to, "│", LINE_STYLE)

    for node in example.nodes:
        r, col = row[node.output], join[level[node.output]]
        canvas.put(r, col, "┴─", LINE_STYLE)
        style = CURRENT_NODE_STYLE if current is not None and current.node == node else NODE_STYLE
        for offset, part in zip((-1, 0, 1), BOX):
            canvas.put(r + offset, col + 2, part.format(node.op), style)
    return canvas.text()


def explain(example: Example, values: dict[str, float], steps: tuple[BackwardStep, ...], taken: int) -> str:
    """What the latest backward step did, in numbers; before the first, where the pass starts."""
    if not taken:
        return f"d {example.labels[example.output]} / d {example.labels[example.output]} = 1: " \
               "press b to send it back one node at a time"
    step = steps[taken - 1]
    name = {edge: example.labels[edge] for edge in step.node.inputs}
    first, second = step.node.inputs
    if step.node.op == "×":
        return (f"× swaps: d {name[first]} = {number(step.dout)} × {number(values[second])} "
                f"= {number(step.grads[first])} · d {name[second]} = {number(step.dout)} × "
                f"{number(values[first])} = {number(step.grads[second])}")
    return (f"+ passes it on: d {name[first]} = {number(step.grads[first])} · "
            f"d {name[second]} = {number(step.grads[second])}")


def solve(example: Example, inputs: dict[str, float]) -> tuple[Graph, tuple[BackwardStep, ...]]:
    """Forward and backward through a fresh graph; GraphInputError (nothing kept) when an input is refused."""
    graph = Graph(example)
    graph.forward(inputs)
    return graph, graph.backward()


class Canvas:
    """A grid of styled characters, written in place, read out as one rich Text."""

    def __init__(self, rows: int, width: int):
        self.cells = [[(" ", "")] * width for _ in range(rows)]

    def put(self, row: int, col: int, text: str, style: str = "") -> None:
        self.cells[row][col:col + len(text)] = [(char, style) for char in text]

    def text(self) -> Text:
        text = Text(no_wrap=True)
        for r, cells in enumerate(self.cells):
            if r:
                text.append("\n")
            for style, run in groupby(cells, key=lambda cell: cell[1]):  # one span per run of a style
                text.append("".join(char for char, _ in run), style)
        return text


class ComputationalGraph(ScrollableContainer):
    """The lesson's view: the graph, what the last backward step did, and an input field per input.

    The keys work while this container (not one of its inputs) has focus:
    printable keys typed into an input are text. Esc in an input comes back here.
    """

    BINDINGS = [
        Binding("b", "backward_step", "Backward: one node further (the graph)", show=False),
        Binding("a", "backward_all", "Backward: the whole pass at once (the graph)", show=False),
        Binding("z", "reset_backward", "Backward: start again, gradients hidden (the graph)", show=False),
        Binding("v", "switch_example", "Switch example: apples / apples and oranges (the graph)", show=False),
        Binding("escape", "leave_inputs", "From an input back to the graph's keys", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.example = APPLE
        self.inputs = {name: dict(example.defaults) for name, example in EXAMPLES.items()}
        self.graph, self.steps = solve(self.example, self.inputs[self.example.name])
        self.taken = 0  # backward steps shown

    def compose(self) -> ComposeResult:
        yield Static(id="graph-heading")
        yield Static(id="graph-drawing")
        yield Static(id="graph-step")
        with Horizontal(id="graph-fields"):
            for name in FIELD_NAMES:
                with Vertical(id=f"graph-field-{name}", classes="graph-field"):
                    yield Label(APPLE_ORANGE.labels[name])
                    yield Input(compact=True, id=f"graph-input-{name}")
                    yield Static(id=f"graph-note-{name}", classes="graph-note")
        yield Static(KEYS_HINT, classes="graph-keys")

    def on_mount(self) -> None:
        self.load_fields()
        self.show()

    def load_fields(self) -> None:
        """Show the current example's fields with its values, and no error notes."""
        values = self.inputs[self.example.name]
        for name in FIELD_NAMES:
            self.query_one(f"#graph-field-{name}").display = name in values
            self.query_one(f"#graph-input-{name}", Input).value = number(values[name]) if name in values else ""
            self.show_error(name, "")

    def show(self) -> None:
        steps, taken = self.steps, self.taken
        self.query_one("#graph-heading", Static).update(Text.assemble(
            (self.example.title, "bold"), f" · backward {taken}/{len(steps)} nodes · in red: ",
            ("d price / d edge", GRADIENT_STYLE),
        ))
        self.query_one("#graph-drawing", Static).update(draw_graph(self.example, self.graph.values, steps, taken))
        self.query_one("#graph-step", Static).update(explain(self.example, self.graph.values, steps, taken))

    def show_error(self, name: str, message: str) -> None:
        note = self.query_one(f"#graph-note-{name}", Static)
        note.update(message)
        note.set_class(bool(message), "error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.input.id.removeprefix("graph-input-")
        inputs = self.inputs[self.example.name]
        try:
            candidate = {**inputs, name: parse_value(event.value)}
            self.graph, self.steps = solve(self.example, candidate)
        except GraphInputError as exc:  # an overflow further on is reported at the field that caused it
            self.show_error(name, exc.problems.get(name, next(iter(exc.problems.values()))))
            return
        except ValueError as exc:
            self.show_error(name, str(exc))
            return
        inputs.update(candidate)
        self.show_error(name, "")
        self.show()

    # ---- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Let keys this view has no use for at the moment fall through to the app's bindings."""
        if action == "leave_inputs":
            return isinstance(self.screen.focused, Input) and self in self.screen.focused.ancestors
        if action in SCROLL_ACTIONS:
            return self.allow_vertical_scroll if SCROLL_ACTIONS[action] == "vertical" else \
                self.allow_horizontal_scroll
        return True

    def action_backward_step(self) -> None:
        self.taken = min(self.taken + 1, len(self.steps))
        self.show()

    def action_backward_all(self) -> None:
        self.taken = len(self.steps)
        self.show()

    def action_reset_backward(self) -> None:
        self.taken = 0
        self.show()

    def action_switch_example(self) -> None:
        self.example = APPLE_ORANGE if self.example is APPLE else APPLE
        self.graph, self.steps = solve(self.example, self.inputs[self.example.name])
        self.taken = 0
        self.load_fields()
        self.show()

    def action_leave_inputs(self) -> None:
        self.focus()


# For the app's help screen: (keys as in a Binding, what they do).
HELP = [(binding.key, binding.description) for binding in ComputationalGraph.BINDINGS]
