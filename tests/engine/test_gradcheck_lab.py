"""The gradient-check lab: each injected bug is caught on exactly the tensors it breaks, with a hint that names
it; the correct layers never fail; kinks are checked; the training run never sees a bug."""
from __future__ import annotations

import numpy as np
import pytest

from engine.gradcheck import gradient_check
from engine.gradcheck_lab import BUGS, BY_KEY, lab_check, with_bug
from engine.layers import ReLU
from engine.network import Network
from tests.conftest import SHARED_MNIST, trained_like


def random_digits(seed=1, n=3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    x[:, rng.random(784) < 0.6] = 0  # most pixels blank, as in a digit
    return x, rng.integers(0, 10, n)


def real_digits(n=3):
    from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

    images = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    if not images.is_file():
        pytest.skip("the shared MNIST test set is not here (../shared/data/mnist)")
    x = read_idx(images, IMAGES_MAGIC)[:n].reshape(n, -1)
    return x, read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)[:n].astype(np.int64)


def tensors(depth: int, layers) -> set[str]:
    return {f"{kind}{k}" for k in layers for kind in "Wb" if 1 <= k <= depth}


def affected(key: str, net: Network) -> set[str]:
    """What each bug must break, worked out from the network's shape (not from the lab's code)."""
    depth = len(net.sizes) - 1
    every = tensors(depth, range(1, depth + 1))
    if key == "affine-no-transpose":  # dx of the first square Affine k: everything upstream of it
        k = next(k for k in range(2, depth + 1) if net.sizes[k - 1] == net.sizes[k])
        return tensors(depth, range(1, k))
    if key == "bias-axes":
        return {name for name in every if name.startswith("b")}
    if key in ("relu-mask", "sigmoid-input"):  # every activation: all layers before the last one
        return tensors(depth, range(1, depth))
    return every


CASES = [((50,), "relu"), ((50, 50), "relu"), ((50,), "sigmoid")]


@pytest.mark.parametrize("data", ["random", "real"])
@pytest.mark.parametrize("hidden, activation", CASES)
def test_each_bug_is_caught_on_exactly_the_tensors_it_breaks(data, hidden, activation):
    net = trained_like(hidden, activation)
    x, t = random_digits() if data == "random" else real_digits()
    tried = 0
    for bug in BUGS:
        if bug.applies_to(net) is not None:
            continue
        tried += 1
        result = lab_check(net, x, t, bug)
        failing = {c.name for c in result.checks if not c.row.passed}
        assert failing == affected(bug.key, net), bug.key
        assert not result.hint.startswith("Every tensor passes")  # it says what failed
    assert tried >= 6


def test_the_hints_name_the_cause():
    net, (x, t) = trained_like(), random_digits()
    hint = lambda key, net=net: lab_check(net, x, t, BY_KEY[key]).hint
    assert "SoftmaxWithLoss" in hint("no-n") and "/ N is missing" in hint("no-n") and "N = 3" in hint("no-n")
    assert "SoftmaxWithLoss" in hint("softmax-axis")
    assert "ReLU1" in hint("relu-mask") and "W2, b2 pass" in hint("relu-mask")
    assert "Only the biases fail" in hint("bias-axes") and "axis=0" in hint("bias-axes")
    assert "twice" in hint("twice") and "two backward passes" in hint("twice")
    assert "integer array" in hint("numeric-int")
    assert "numerical side" in hint("numeric-float16")
    deep = trained_like((50, 50))
    assert "Affine2" in hint("affine-no-transpose", deep) and "W2, b2, W3, b3 pass" in hint("affine-no-transpose", deep)
    sigmoid = trained_like(activation="sigmoid")
    assert "Sigmoid1" in hint("sigmoid-input", sigmoid)


def test_bugs_that_do_not_fit_the_network_say_why():
    relu, sigmoid = trained_like(), trained_like(activation="sigmoid")
    assert "Sigmoid" in BY_KEY["sigmoid-input"].applies_to(relu)
    assert "ReLU" in BY_KEY["relu-mask"].applies_to(sigmoid)
    assert "square" in BY_KEY["affine-no-transpose"].applies_to(relu)
    assert BY_KEY["affine-no-transpose"].applies_to(trained_like((50, 50))) is None


@pytest.mark.parametrize("seed", range(50))
def test_no_false_failure_on_the_correct_layers(seed):
    net = trained_like(seed=seed)
    x, t = random_digits(seed=100 + seed)
    result = lab_check(net, x, t, None)
    assert all(c.row.passed for c in result.checks), [c.row for c in result.checks]
    assert all(result.layer_checks.values())
    assert result.hint.startswith("Every tensor passes")


def test_the_lab_leaves_the_network_alone():
    net, (x, t) = trained_like(), random_digits()
    before = {k: v.copy() for k, v in net.params.items()}
    layers = dict(net.layers)
    for bug in BUGS:
        if bug.applies_to(net) is None:
            lab_check(net, x, t, bug)
    assert net.layers == layers and all(type(v) is type(layers[k]) for k, v in net.layers.items())
    for k, v in net.params.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])
    assert with_bug(net, BY_KEY["relu-mask"]).params["W1"] is not net.params["W1"]


def kinked():
    """A float64 net with hidden unit 0 of sample 0 a hair above its kink, and hidden unit 1 a hair below."""
    rng = np.random.default_rng(4)
    net = Network(6, [4], 3, "relu", weight_init=0.5, dtype=np.float64, rng=rng)
    x = rng.uniform(0.5, 1.0, size=(3, 6))
    net.params["b1"][0] = 1e-6 - x[0] @ net.params["W1"][:, 0]
    net.params["b1"][1] = -1e-6 - x[1] @ net.params["W1"][:, 1]
    return net, x, np.array([0, 1, 2])


def test_kinks_are_checked_between_the_one_sided_slopes():
    net, x, t = kinked()
    rows = {r.name: r for r in gradient_check(net, x, t)}
    assert rows["W1"].kinks == 12 and rows["b1"].kinks == 2  # two units' every input weight and bias
    assert rows["W1"].kink_failures == 0 and rows["b1"].kink_failures == 0
    assert all(r.passed for r in rows.values())


def test_a_broken_relu_backward_fails_at_its_kinks():
    class InvertedReLU(ReLU):  # passes gradient exactly where it must not
        def backward(self, dout):
            return dout * ~self.mask

    net, x, t = kinked()
    broken = Network.from_params(net.sizes, net.activation, net.params, np.float64)
    broken.layers["ReLU1"] = InvertedReLU()
    from engine.gradcheck import check_tensors

    checks = {c.name: c for c in check_tensors(net, x, t, broken.gradient(x, t))}
    assert checks["b1"].kinks.sum() == 2
    assert not checks["b1"].kink_ok[checks["b1"].kinks].any()  # neither kink lies within its slopes
    assert checks["b1"].row.kink_failures == 2 and not checks["b1"].row.passed


@pytest.mark.parametrize("seed", range(20))
def test_every_kink_of_the_correct_engine_lies_between_its_slopes(seed):
    """Many units put within h of their kink (either side, at random distances) on random nets: every one of
    those elements is checked at the kink, and none fails."""
    rng = np.random.default_rng(seed)
    net = Network(8, [6, 5], 3, "relu", weight_init="he", dtype=np.float64, rng=rng)
    x = rng.uniform(0.2, 1.0, size=(3, 8))
    for unit in rng.choice(6, 3, replace=False):  # hidden units of layer 1, each near its kink for one sample
        n = rng.integers(3)
        net.params["b1"][unit] = rng.uniform(-5e-5, 5e-5) - x[n] @ net.params["W1"][:, unit]
    rows = gradient_check(net, x, rng.integers(0, 3, 3))
    assert sum(r.kinks for r in rows) > 0
    assert all(r.kink_failures == 0 and r.passed for r in rows), rows
