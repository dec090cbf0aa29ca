"""The computational-graph lesson: the book's apple examples drawn as graphs, editable, stepped backward.

Each edge shows its forward value on the line and, under it in red, the
price's derivative with respect to it, revealed one node at a time as the
backward pass goes from the price back to the inputs. The numbers come from
engine.graph_lesson, which runs the project's own MulLayer and AddLayer.
A third example uses a value twice; the naive order shows what goes wrong
without the topological order, and predict mode asks the learner for each
gradient before revealing it.
"""
from __future__ import annotations

from dataclasses import dataclass
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
    Node,
    parse_value,
    same_gradient,
)

LINE_STYLE = "bright_black"
VALUE_STYLE = "bold"
GRADIENT_STYLE = "bold red"
UNREACHED = "?"  # a gradient the backward pass has not reached yet
UNREACHED_STYLE = "dim red"
NODE_STYLE = "cyan"
CURRENT_NODE_STYLE = "bold black on yellow"  # the node whose backward step was just taken
WRONG = "✗"  # after a gradient the naive order gets wrong
WRONG_STYLE = "bold white on red"
BOX = ("╭───╮", "┤ {} ├", "╰───╯")
BOX_WIDTH = 5
# An edge: "── value ─" then the join (or the arrow): the value sits VALUE_OFFSET columns in.
VALUE_OFFSET = 3
EDGE_EXTRA = 5  # columns of an edge besides its value
# An edge used twice by one node forks this many columns before the node's join: "┬──┐".
FORK_EXTRA = 3
# One field per input of any example (the apples-and-oranges order first), hidden when unused.
FIELD_NAMES = tuple(dict.fromkeys(name for example in (APPLE_ORANGE, *EXAMPLES.values()) for name in example.inputs))
FIELD_LABELS = {name: example.labels[name] for example in EXAMPLES.values() for name in example.inputs}
SCROLL_ACTIONS = {
    "scroll_up": "vertical", "scroll_down": "vertical", "scroll_home": "vertical", "scroll_end": "vertical",
    "page_up": "vertical", "page_down": "vertical", "scroll_left": "horizontal", "scroll_right": "horizontal",
    "page_left": "horizontal", "page_right": "horizontal",
}
# One line, so that the apples and oranges still fit the tab of an 80x24 terminal; ? lists the keys in full.
KEYS_HINT = ("[b]b[/] back one node · [b]a[/] all · [b]z[/] reset · [b]v[/] next · [b]o[/] naive · "
             "[b]p[/] predict · [b]Tab[/] edit")
NAIVE_NOTE = "Naive order: a node runs at the first gradient that reaches its output. "
NAIVE_WRONG = (f"{WRONG} = wrong: a node must wait until every use of its output has sent its gradient "
               "(reverse topological order).")
NAIVE_RIGHT = "Every value here is used once, so nothing goes wrong: press v for one used twice."


def number(value: float) -> str:
    return f"{value + 0.0:.6g}"  # + 0.0 turns -0.0 into 0.0


def all_gradients(example: Example, steps: tuple[BackwardStep, ...]) -> dict[str, float]:
    """d price / d edge for every edge the steps reached: the price's own gradient, 1, and each edge's latest sum."""
    gradients = {example.output: 1.0}
    for step in steps:
        gradients.update(step.grads)
    return gradients


def uses_one_edge_twice(node: Node) -> bool:
    return node.inputs[0] == node.inputs[1]


def draw_graph(example: Example, values: dict[str, float], steps: tuple[BackwardStep, ...], taken: int,
               right: dict[str, float] | None = None) -> Text:
    """The graph in box-drawing characters, with the gradients of the first `taken` backward steps shown.

    Edges run left to right. A node sits on the row of its second input, its
    first input drops into it from above, so the inputs are listed top to
    bottom and every edge gets two rows: its line (with the forward value) and
    the gradient under it. A node whose two inputs are one edge sits a row pair
    under it, the edge forking into both. Nodes at the same distance from the
    inputs share a column; each column of values is as wide as its widest
    number, so the drawing does not move as gradients are revealed. Given the
    `right` gradients, a shown gradient that differs is marked wrong.
    """
    producer = {node.output: node for node in example.nodes}
    consumer = {edge: node for node in example.nodes for edge in node.inputs}
    gradients = all_gradients(example, steps[:taken])
    current = steps[taken - 1] if taken else None

    def is_wrong(edge: str, grad: float) -> bool:
        return right is not None and not same_gradient(grad, right[edge])

    def gradient_text(edge: str, grad: float) -> str:
        return number(grad) + (WRONG if is_wrong(edge, grad) else "")

    row: dict[str, int] = {}
    level: dict[str, int] = {}  # 0 for an input, else 1 + the highest level of its node's inputs

    def place(edge: str) -> None:
        if edge not in producer:
            row[edge], level[edge] = max(row.values(), default=-2) + 2, 0  # under everything placed so far
            return
        node = producer[edge]
        for source in dict.fromkeys(node.inputs):
            place(source)
        row[edge] = row[node.inputs[1]] + (2 if uses_one_edge_twice(node) else 0)
        level[edge] = 1 + max(level[source] for source in node.inputs)

    place(example.output)
    top = level[example.output]
    every_gradient = {example.output: [1.0]}  # what each edge shows on the way: every step's sum so far
    for step in steps:
        for edge, grad in step.grads.items():
            every_gradient.setdefault(edge, []).append(grad)
    value_width = [0] * (top + 1)
    for edge, lvl in level.items():
        value_width[lvl] = max(value_width[lvl], len(number(values[edge])),
                               *(len(gradient_text(edge, grad)) for grad in every_gradient[edge]))
    label_width = max(len(example.labels[edge]) for edge in example.inputs)
    start = [label_width + 1]  # where each level's edges begin
    join = [0]  # the column where level k's nodes take their inputs in
    for k in range(1, top + 1):
        forks = any(uses_one_edge_twice(node) and level[node.output] == k for node in example.nodes)
        join.append(start[k - 1] + value_width[k - 1] + EDGE_EXTRA + (FORK_EXTRA if forks else 0))
        start.append(join[k] + 2 + BOX_WIDTH)
    arrow = start[top] + value_width[top] + EDGE_EXTRA
    out_label = example.labels[example.output]
    canvas = Canvas(max(row.values()) + 2, arrow + 2 + len(out_label))

    for edge, lvl in level.items():
        r = row[edge]
        line_from = len(example.labels[edge]) + 1 if lvl == 0 else start[lvl]
        line_to = join[level[consumer[edge].output]] if edge in consumer else arrow
        if lvl == 0:
            canvas.put(r, 0, example.labels[edge])
        canvas.put(r, line_from, "─" * (line_to - line_from), LINE_STYLE)
        value_at = start[lvl] + VALUE_OFFSET
        canvas.put(r, value_at - 1, f" {number(values[edge])} ", VALUE_STYLE)  # a gap in the line either side
        if edge in gradients:
            style = WRONG_STYLE if is_wrong(edge, gradients[edge]) else GRADIENT_STYLE
            canvas.put(r + 1, value_at, gradient_text(edge, gradients[edge]), style)
        else:
            canvas.put(r + 1, value_at, UNREACHED, UNREACHED_STYLE)
        if edge not in consumer:
            canvas.put(r, arrow, "▶ " + out_label, LINE_STYLE)
        elif edge == consumer[edge].inputs[0]:  # drops from above into its node (and, used twice, forks first)
            node_row = row[consumer[edge].output]
            canvas.put(r, line_to, "┐", LINE_STYLE)
            for between in range(r + 1, node_row):
                canvas.put(between, line_to, "│", LINE_STYLE)
            if uses_one_edge_twice(consumer[edge]):
                draw_fork(canvas, r, node_row, line_to - FORK_EXTRA, line_to)

    for node in example.nodes:
        r, col = row[node.output], join[level[node.output]]
        canvas.put(r, col, "┴─", LINE_STYLE)
        style = CURRENT_NODE_STYLE if current is not None and current.node == node else NODE_STYLE
        for offset, part in zip((-1, 0, 1), BOX):
            canvas.put(r + offset, col + 2, part.format(node.op), style)
    return canvas.text()


def draw_fork(canvas: Canvas, edge_row: int, node_row: int, split: int, join: int) -> None:
    """The second use of an edge: a branch from `split` down to the node's row and along it to its join."""
    canvas.put(edge_row, split, "┬", LINE_STYLE)
    for between in range(edge_row + 1, node_row):
        canvas.put(between, split, "│", LINE_STYLE)
    canvas.put(node_row, split, "└" + "─" * (join - split - 1), LINE_STYLE)


def explain(example: Example, values: dict[str, float], steps: tuple[BackwardStep, ...], taken: int,
            right: dict[str, float] | None = None) -> str:
    """What the latest backward step did, in numbers; before the first, where the pass starts.

    Given the `right` gradients, a step that ran before its output's gradient was complete says so.
    """
    if not taken:
        return f"d {example.labels[example.output]} / d {example.labels[example.output]} = 1: " \
               "press b to send it back one node at a time"
    step = steps[taken - 1]
    said = what_the_step_did(example, values, step)
    out = step.node.output
    if right is None or same_gradient(step.dout, right[out]):
        return said
    return (f"{WRONG} too early: {step.node.op} ran with d {example.labels[out]} = {number(step.dout)}, not "
            f"{number(right[out])}, before every use had sent its share. {said}")


def what_the_step_did(example: Example, values: dict[str, float], step: BackwardStep) -> str:
    first, second = step.node.inputs
    name = {edge: example.labels[edge] for edge in step.node.inputs}
    if uses_one_edge_twice(step.node):
        paths = " + ".join(number(grad) for grad in step.paths[first])
        sum_up = f"d {name[first]} = {paths} = {number(step.grads[first])}"
        if step.node.op == "×":
            return (f"× uses {name[first]} twice, each use gets {number(step.dout)} × the other "
                    f"{name[first]}: {sum_up}")
        return f"+ uses {name[first]} twice and passes {number(step.dout)} back along each: {sum_up}"
    if step.node.op == "×":
        return (f"× swaps: d {name[first]} = {number(step.dout)} × {number(values[second])} "
                f"= {number(step.sent[0])} · d {name[second]} = {number(step.dout)} × "
                f"{number(values[first])} = {number(step.sent[1])}")
    return (f"+ passes it on: d {name[first]} = {number(step.sent[0])} · "
            f"d {name[second]} = {number(step.sent[1])}")


@dataclass(frozen=True)
class Solved:
    """One example run through a fresh graph: its values, the backward pass, and the naive order's pass."""

    graph: Graph
    steps: tuple[BackwardStep, ...]
    naive_steps: tuple[BackwardStep, ...]

    @property
    def right(self) -> dict[str, float]:
        return all_gradients(self.graph.example, self.steps)

    @property
    def naive_is_right(self) -> bool:
        naive = all_gradients(self.graph.example, self.naive_steps)
        return all(same_gradient(naive[edge], grad) for edge, grad in self.right.items())


def solve(example: Example, inputs: dict[str, float]) -> Solved:
    """Forward and both backward passes; GraphInputError (nothing kept) when an input is refused."""
    graph = Graph(example)
    graph.forward(inputs)
    return Solved(graph, graph.backward(), graph.naive_backward())


def verdict(label: str, typed: str, right: float) -> str:
    """Whether the typed gradient is right, saying what was typed and what is right."""
    if same_gradient(parse_value(typed), right):
        return f"✓ d {label}: you typed {typed.strip()}, right"
    return f"{WRONG} d {label}: you typed {typed.strip()}, it is {number(right)}"


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
    In predict mode, b first asks for each gradient the next node sends back
    (one question per input edge) and takes the step once all are answered.
    """

    BINDINGS = [
        Binding("b", "backward_step", "Backward: one node further (in predict mode, guess its gradients first) "
                "(the graph)", show=False),
        Binding("a", "backward_all", "Backward: the whole pass at once (the graph)", show=False),
        Binding("z", "reset_backward", "Backward: start again, gradients hidden (the graph)", show=False),
        Binding("v", "switch_example", "Next example: apples / apples and oranges / a value used twice (the graph)",
                show=False),
        Binding("o", "toggle_naive", "Naive order, a node runs at its first gradient: what goes wrong; toggle "
                "(the graph)", show=False),
        Binding("p", "toggle_predict", "Predict mode: type each gradient before it is shown; toggle (the graph)",
                show=False),
        Binding("escape", "leave_inputs", "From an input back to the graph's keys", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.example = APPLE
        self.inputs = {name: dict(example.defaults) for name, example in EXAMPLES.items()}
        self.solved = solve(self.example, self.inputs[self.example.name])
        self.taken = 0  # backward steps shown
        self.naive = False  # show the naive order's pass instead of the topological one
        self.predicting = False
        self.questions: list[str] = []  # in predict mode: the next step's input edges not yet guessed
        self.verdicts: list[str] = []  # what the learner's guesses for the latest step were
        self.answer_problem = ""  # why the last answer typed was not a number

    def compose(self) -> ComposeResult:
        yield Static(id="graph-heading")
        yield Static(id="graph-drawing")
        yield Static(id="graph-step")
        yield Static(id="graph-order")
        with Horizontal(id="graph-predict"):
            yield Label(id="graph-question")
            yield Input(compact=True, id="graph-answer")
        yield Static(id="graph-verdict")
        with Horizontal(id="graph-fields"):
            for name in FIELD_NAMES:
                with Vertical(id=f"graph-field-{name}", classes="graph-field"):
                    yield Label(FIELD_LABELS[name])
                    yield Input(compact=True, id=f"graph-input-{name}")
                    yield Static(id=f"graph-note-{name}", classes="graph-note")
        yield Static(KEYS_HINT, classes="graph-keys")

    def on_mount(self) -> None:
        self.load_fields()
        self.show()

    @property
    def steps(self) -> tuple[BackwardStep, ...]:
        """The pass shown: the naive order's or the topological one."""
        return self.solved.naive_steps if self.naive else self.solved.steps

    def load_fields(self) -> None:
        """Show the current example's fields with its values, and no error notes."""
        values = self.inputs[self.example.name]
        for name in FIELD_NAMES:
            self.query_one(f"#graph-field-{name}").display = name in values
            self.query_one(f"#graph-input-{name}", Input).value = number(values[name]) if name in values else ""
            self.show_error(name, "")

    def show(self) -> None:
        steps, taken, example, values = self.steps, self.taken, self.example, self.solved.graph.values
        right = self.solved.right if self.naive else None
        modes = [mode for mode, on in (("naive order", self.naive), ("predicting", self.predicting)) if on]
        self.query_one("#graph-heading", Static).update(Text.assemble(
            (example.title, "bold"), f" · backward {taken}/{len(steps)} nodes · in red: ",
            (f"d {example.labels[example.output]} / d edge", GRADIENT_STYLE), *(f" · {mode}" for mode in modes),
        ))
        self.query_one("#graph-drawing", Static).update(draw_graph(example, values, steps, taken, right))
        self.query_one("#graph-step", Static).update(explain(example, values, steps, taken, right))
        order = self.query_one("#graph-order", Static)
        order.display = self.naive
        order.update(NAIVE_NOTE + (NAIVE_RIGHT if self.solved.naive_is_right else NAIVE_WRONG))
        self.query_one("#graph-predict").display = bool(self.questions)
        if self.questions:
            edge = self.questions[0]
            node = steps[taken].node
            self.query_one("#graph-question", Label).update(
                f"Predict d {example.labels[edge]}, what the {node.op} node sends back (Enter):")
        said = [*self.verdicts, self.answer_problem] if self.answer_problem else self.verdicts
        self.query_one("#graph-verdict", Static).update(" · ".join(said))
        self.query_one("#graph-verdict").display = bool(said)

    def show_error(self, name: str, message: str) -> None:
        note = self.query_one(f"#graph-note-{name}", Static)
        note.update(message)
        note.set_class(bool(message), "error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "graph-answer":
            self.check_answer(event.value)
            return
        name = event.input.id.removeprefix("graph-input-")
        inputs = self.inputs[self.example.name]
        try:
            candidate = {**inputs, name: parse_value(event.value)}
            self.solved = solve(self.example, candidate)
        except GraphInputError as exc:  # an overflow further on is reported at the field that caused it
            self.show_error(name, exc.problems.get(name, next(iter(exc.problems.values()))))
            return
        except ValueError as exc:
            self.show_error(name, str(exc))
            return
        inputs.update(candidate)
        self.show_error(name, "")
        self.show()

    def check_answer(self, typed: str) -> None:
        """Judge the guess for the first open question; once every one is answered, take the step."""
        edge = self.questions[0]
        try:
            self.verdicts.append(verdict(self.example.labels[edge], typed, self.steps[self.taken].grads[edge]))
            self.answer_problem = ""
        except ValueError as exc:  # not a number: the same question again
            self.answer_problem = str(exc)
            self.show()
            return
        self.questions.pop(0)
        if self.questions:
            self.ask()
        else:
            self.taken += 1
            self.focus()
        self.show()

    def ask(self) -> None:
        answer = self.query_one("#graph-answer", Input)
        answer.value = ""
        answer.focus()

    def forget_questions(self) -> None:
        """Drop the open questions (the step is not taken) and the last verdicts."""
        self.questions, self.verdicts, self.answer_problem = [], [], ""

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
        if self.taken == len(self.steps):
            return
        if not self.predicting:
            self.taken += 1
        elif not self.questions:  # a new step to guess (open questions are kept, Esc or not)
            self.questions, self.verdicts = list(dict.fromkeys(self.steps[self.taken].node.inputs)), []
        if self.questions:
            self.ask()
        self.show()

    def action_backward_all(self) -> None:
        self.forget_questions()
        self.taken = len(self.steps)
        self.show()

    def action_reset_backward(self) -> None:
        self.forget_questions()
        self.taken = 0
        self.show()

    def action_switch_example(self) -> None:
        names = list(EXAMPLES)
        self.example = EXAMPLES[names[(names.index(self.example.name) + 1) % len(names)]]
        self.solved = solve(self.example, self.inputs[self.example.name])
        self.forget_questions()
        self.taken = 0
        self.load_fields()
        self.show()

    def action_toggle_naive(self) -> None:
        self.forget_questions()  # the other pass may ask for other numbers
        self.naive = not self.naive
        self.show()

    def action_toggle_predict(self) -> None:
        self.forget_questions()
        self.predicting = not self.predicting
        self.show()

    def action_leave_inputs(self) -> None:
        self.focus()
        self.show()


# For the app's help screen: (keys as in a Binding, what they do).
HELP = [(binding.key, binding.description) for binding in ComputationalGraph.BINDINGS]
