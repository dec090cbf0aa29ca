"""The book's shopping examples as computational graphs of MulLayer and AddLayer nodes.

"Deep Learning from Scratch" ch. 5 introduces backpropagation with the price of
apples (and then apples and oranges) with tax: every edge carries a forward
value, and the backward pass, from the price back to the inputs, gives the
price's derivative with respect to each edge. Here each example is a small
graph whose nodes are this project's own layers; Graph.forward() and
Graph.backward() run them as the book does, and backward() reports one step
per node, in order, so a view can reveal the gradients node by node.

When a value is used more than once, its gradient is the sum of what every use
sends back, and a node may only run once every use of its output has sent its
share: backward() goes in reverse topological order. naive_backward() shows
what goes wrong without that order.
"""
from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .layers import AddLayer, MulLayer

LAYERS = {"×": MulLayer, "+": AddLayer}
# A gradient is the true one when it is this close to the true one (relative, or absolute near 0).
RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-9


class GraphInputError(ValueError):
    """Inputs the graph refuses; `problems` maps each offending input (or edge) to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Node:
    """One layer of the graph: `op` ("×" or "+") of the edges `inputs`, giving the edge `output`."""

    op: str
    inputs: tuple[str, str]
    output: str


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    labels: Mapping[str, str]  # every edge's name in words
    defaults: Mapping[str, float]  # the inputs, in the order they are drawn and edited
    nodes: tuple[Node, ...]  # in forward order: each node's inputs are computed before it

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    @property
    def output(self) -> str:
        return self.nodes[-1].output


@dataclass(frozen=True)
class BackwardStep:
    """One node's backward: the gradient `dout` at its output when it ran and what it sent back.

    An input edge may have received gradient before (from another node) or
    twice in this step (a node whose two inputs are the same edge): `paths`
    lists every contribution it has received so far, and `grads` their sum.
    """

    node: Node
    dout: float
    sent: tuple[float, ...]  # what the layer's backward sent to each of node.inputs, in order
    paths: dict[str, tuple[float, ...]]  # input edge -> every contribution so far
    grads: dict[str, float]  # input edge -> d price / d edge so far: the sum of its paths


# The seed's example: three apples at 100 each, with 10% tax.
APPLE = Example(
    name="apple",
    title="Apples",
    labels={"apple": "apple price", "apple_num": "apple count", "tax": "tax",
            "apple_price": "apples", "price": "price"},
    defaults={"apple": 100.0, "apple_num": 3.0, "tax": 1.1},
    nodes=(
        Node("×", ("apple", "apple_num"), "apple_price"),
        Node("×", ("apple_price", "tax"), "price"),
    ),
)

# The book's extension (its figure 5-17): two apples at 100 and three oranges at 150, with tax.
APPLE_ORANGE = Example(
    name="apple_orange",
    title="Apples and oranges",
    labels={"apple": "apple price", "apple_num": "apple count", "orange": "orange price",
            "orange_num": "orange count", "tax": "tax", "apple_price": "apples", "orange_price": "oranges",
            "all_price": "subtotal", "price": "price"},
    defaults={"apple": 100.0, "apple_num": 2.0, "orange": 150.0, "orange_num": 3.0, "tax": 1.1},
    nodes=(
        Node("×", ("apple", "apple_num"), "apple_price"),
        Node("×", ("orange", "orange_num"), "orange_price"),
        Node("+", ("apple_price", "orange_price"), "all_price"),
        Node("×", ("all_price", "tax"), "price"),
    ),
)

# One value used twice, twice: b = a + a, c = b · b. Each use sends its own gradient back, and they add up:
# dc/db = b + b = 12, dc/da = 12 + 12 = 24 at a = 3.
REUSED = Example(
    name="reused",
    title="One value used twice",
    labels={"a": "a", "b": "b", "c": "c"},
    defaults={"a": 3.0},
    nodes=(
        Node("+", ("a", "a"), "b"),
        Node("×", ("b", "b"), "c"),
    ),
)

EXAMPLES = {example.name: example for example in (APPLE, APPLE_ORANGE, REUSED)}


def parse_value(text: str) -> float:
    """A number typed by the user; ValueError saying what is wrong when it is not a finite one."""
    text = text.strip()
    if not text:
        raise ValueError("enter a number")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be finite, not {text}")
    return value


def check_inputs(example: Example, inputs: Mapping[str, object]) -> dict[str, float]:
    """The example's inputs as floats; GraphInputError naming each missing, unknown or non-finite one."""
    problems = {name: "unknown input" for name in inputs if name not in example.defaults}
    values = {}
    for name in example.inputs:
        value = inputs.get(name)
        if value is None:
            problems[name] = "missing"
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            problems[name] = f"must be a number, not {value!r}"
        elif not math.isfinite(value):
            problems[name] = f"must be finite, not {value}"
        else:
            values[name] = float(value)
    if problems:
        raise GraphInputError(problems)
    return values


def same_gradient(gradient: float, right: float) -> bool:
    """Whether a gradient (a learner's prediction, or a naive pass's) is the true one, up to rounding."""
    return math.isclose(gradient, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def backward_order(example: Example) -> tuple[Node, ...]:
    """The nodes in reverse topological order: each after every node that uses its output.

    A node becomes ready when the last use of its output has been counted;
    the most recently ready runs first, which gives the book's order.
    """
    producer = {node.output: node for node in example.nodes}
    uses_left = Counter(edge for node in example.nodes for edge in node.inputs)
    ready, order = [producer[example.output]], []
    while ready:
        node = ready.pop()
        order.append(node)
        for edge in node.inputs:
            uses_left[edge] -= 1
            if not uses_left[edge] and edge in producer:
                ready.append(producer[edge])
    return tuple(order)


class _Pass:
    """The gradients of one backward pass as they accumulate, and its steps in the order the nodes started."""

    def __init__(self, graph: Graph, dout: float):
        self.graph = graph
        self.grads = {graph.example.output: dout}
        self.paths: dict[str, tuple[float, ...]] = {}
        self.steps: list[BackwardStep | None] = []

    def run(self, node: Node, after_each_input: Callable[[str], None] = lambda edge: None) -> None:
        """The node's backward with the gradient its output has now, added (not written) into each input."""
        example = self.graph.example
        index = len(self.steps)
        self.steps.append(None)  # the node's place, kept while a naive pass runs other nodes in between
        dout = self.grads[node.output]
        sent = self.graph.layers[example.nodes.index(node)].backward(dout)
        for edge, grad in zip(node.inputs, sent):
            self.paths[edge] = self.paths.get(edge, ()) + (grad,)
            self.grads[edge] = self.grads.get(edge, 0.0) + grad
            _check_finite(example, edge, self.grads[edge], "d ")
            after_each_input(edge)
        self.steps[index] = BackwardStep(node, dout, tuple(sent), {edge: self.paths[edge] for edge in node.inputs},
                                         {edge: self.grads[edge] for edge in node.inputs})


def _check_finite(example: Example, name: str, value: float, what: str) -> None:
    # Finite inputs can still overflow: 1e200 × 1e200 is inf.
    if not math.isfinite(value):
        raise GraphInputError({name: f"overflow: {what}{example.labels[name]} = {value}"})


class Graph:
    """An example built from fresh MulLayer / AddLayer objects, run forward and then backward.

    A call that raises leaves the graph as it was: values and layers are
    replaced only when every result is finite.
    """

    def __init__(self, example: Example):
        self.example = example
        self.layers = [LAYERS[node.op]() for node in example.nodes]
        self.values: dict[str, float] = {}  # every edge's forward value, once forward() has run

    def forward(self, inputs: Mapping[str, object]) -> float:
        """Run every node in order; return the price. GraphInputError for bad inputs or an overflow."""
        values = check_inputs(self.example, inputs)
        layers = [LAYERS[node.op]() for node in self.example.nodes]
        for node, layer in zip(self.example.nodes, layers):
            values[node.output] = layer.forward(*(values[edge] for edge in node.inputs))
            _check_finite(self.example, node.output, values[node.output], "")
        self.layers, self.values = layers, values
        return values[self.example.output]

    def backward(self, dout: float = 1.0) -> tuple[BackwardStep, ...]:
        """Backward from the price to the inputs in reverse topological order: one step per node."""
        backward_pass = self._start(dout)
        for node in backward_order(self.example):
            backward_pass.run(node)
        return tuple(backward_pass.steps)

    def naive_backward(self, dout: float = 1.0) -> tuple[BackwardStep, ...]:
        """The classic mistake, to compare with: depth first, a node runs as soon as a first gradient reaches
        its output, and never again, so what later uses of that output send back stops there.

        In a tree every value has one use and this is right; with a value used twice it is not.
        """
        backward_pass = self._start(dout)
        producer = {node.output: node for node in self.example.nodes}
        started = set()

        def run(node: Node) -> None:
            started.add(node)
            backward_pass.run(node, after_each_input=run_its_producer_once)

        def run_its_producer_once(edge: str) -> None:
            if edge in producer and producer[edge] not in started:
                run(producer[edge])

        run(producer[self.example.output])
        return tuple(backward_pass.steps)

    def _start(self, dout: float) -> _Pass:
        if not self.values:
            raise RuntimeError("run forward() before backward()")
        return _Pass(self, dout)
