"""The book's shopping examples as computational graphs of MulLayer and AddLayer nodes.

"Deep Learning from Scratch" ch. 5 introduces backpropagation with the price of
apples (and then apples and oranges) with tax: every edge carries a forward
value, and the backward pass, from the price back to the inputs, gives the
price's derivative with respect to each edge. Here each example is a small
graph whose nodes are this project's own layers; Graph.forward() and
Graph.backward() run them as the book does, and backward() reports one step
per node, in order, so a view can reveal the gradients node by node.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from .layers import AddLayer, MulLayer

LAYERS = {"×": MulLayer, "+": AddLayer}


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
    """One node's backward: the gradient `dout` arriving at its output and what it sends to each input."""

    node: Node
    dout: float
    grads: dict[str, float]  # input edge -> d price / d edge


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

EXAMPLES = {example.name: example for example in (APPLE, APPLE_ORANGE)}


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
        """Backward through each node from the price to the inputs: one step per node, in that order."""
        if not self.values:
            raise RuntimeError("run forward() before backward()")
        grads = {self.example.output: dout}
        steps = []
        for node, layer in zip(reversed(self.example.nodes), reversed(self.layers)):
            step = BackwardStep(node, grads[node.output], dict(zip(node.inputs, layer.backward(grads[node.output]))))
            for edge, grad in step.grads.items():
                _check_finite(self.example, edge, grad, "d ")
            grads.update(step.grads)
            steps.append(step)
        return tuple(steps)
