"""SGD, Momentum, AdaGrad, Adam: in-place updates, one step by hand, lr changes, convergence."""
import numpy as np
import pytest

from engine.optimizers import DEFAULT_LR, OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, make_optimizer

ALL = [SGD, Momentum, AdaGrad, Adam]


def make_params():
    return {"W1": np.array([[1.0, -2.0], [0.5, 3.0]]), "b1": np.array([0.25, -0.75])}


def make_grads():
    return {"W1": np.array([[0.1, -0.4], [2.0, 0.0]]), "b1": np.array([-1.5, 0.3])}


@pytest.mark.parametrize("cls", ALL)
def test_update_is_in_place(cls):
    params, grads = make_params(), make_grads()
    arrays = {k: v for k, v in params.items()}
    before = {k: v.copy() for k, v in params.items()}
    opt = cls(lr=0.1)
    opt.update(params, grads)
    opt.update(params, grads)
    for k in params:
        assert params[k] is arrays[k]  # same array object, changed in place
    assert not np.array_equal(params["W1"], before["W1"])
    np.testing.assert_array_equal(grads["W1"], make_grads()["W1"])  # grads are not modified


@pytest.mark.parametrize("cls", ALL)
def test_update_in_place_keeps_float32(cls):
    params = {k: v.astype(np.float32) for k, v in make_params().items()}
    grads = {k: v.astype(np.float32) for k, v in make_grads().items()}
    w = params["W1"]
    cls(lr=0.1).update(params, grads)
    assert params["W1"] is w and w.dtype == np.float32


def test_sgd_one_step():
    params, grads = make_params(), make_grads()
    SGD(lr=0.1).update(params, grads)
    for k in params:
        np.testing.assert_allclose(params[k], make_params()[k] - 0.1 * make_grads()[k], rtol=1e-15)


def test_momentum_two_steps():
    params, g = make_params(), make_grads()
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.update(params, g)
    p0 = make_params()
    v1 = {k: -0.1 * g[k] for k in g}
    for k in params:
        np.testing.assert_allclose(params[k], p0[k] + v1[k], rtol=1e-15)
    g2 = {k: 2 * g[k] + 0.5 for k in g}
    opt.update(params, g2)
    for k in params:
        v2 = 0.9 * v1[k] - 0.1 * g2[k]
        np.testing.assert_allclose(opt.v[k], v2, rtol=1e-14)
        np.testing.assert_allclose(params[k], p0[k] + v1[k] + v2, rtol=1e-14)


def test_adagrad_two_steps():
    params, g = make_params(), make_grads()
    opt = AdaGrad(lr=0.5)
    opt.update(params, g)
    p0 = make_params()
    step1 = {k: 0.5 * g[k] / (np.sqrt(g[k] ** 2) + 1e-7) for k in g}
    for k in params:
        np.testing.assert_allclose(params[k], p0[k] - step1[k], rtol=1e-14)
    np.testing.assert_allclose(params["b1"], [0.25 + 0.5, -0.75 - 0.5], rtol=1e-6)  # first step ~ lr * sign(g)
    assert params["W1"][1, 1] == 3.0  # zero gradient: no move
    opt.update(params, g)
    for k in params:
        h = 2 * g[k] ** 2
        np.testing.assert_allclose(params[k], p0[k] - step1[k] - 0.5 * g[k] / (np.sqrt(h) + 1e-7), rtol=1e-14)


def test_adam_two_steps():
    lr, b1, b2 = 0.01, 0.9, 0.999
    params, g = make_params(), make_grads()
    opt = Adam(lr=lr, beta1=b1, beta2=b2)
    opt.update(params, g)
    p0 = make_params()
    m = {k: (1 - b1) * g[k] for k in g}
    v = {k: (1 - b2) * g[k] ** 2 for k in g}
    lr_t = lr * np.sqrt(1 - b2) / (1 - b1)
    p1 = {k: p0[k] - lr_t * m[k] / (np.sqrt(v[k]) + 1e-7) for k in g}
    assert opt.iter == 1
    for k in params:
        np.testing.assert_allclose(params[k], p1[k], rtol=1e-14)
    # Adam's first step has magnitude ~lr in every coordinate with a non-zero gradient.
    np.testing.assert_allclose(params["b1"] - p0["b1"], [lr, -lr], rtol=1e-4)

    g2 = {k: -g[k] + 0.2 for k in g}
    opt.update(params, g2)
    lr_t2 = lr * np.sqrt(1 - b2**2) / (1 - b1**2)
    for k in params:
        m2 = b1 * m[k] + (1 - b1) * g2[k]
        v2 = b2 * v[k] + (1 - b2) * g2[k] ** 2
        np.testing.assert_allclose(opt.m[k], m2, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(opt.v[k], v2, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(params[k], p1[k] - lr_t2 * m2 / (np.sqrt(v2) + 1e-7), rtol=1e-13)
    assert opt.iter == 2


@pytest.mark.parametrize("cls", ALL)
def test_lr_change_takes_effect_on_next_update(cls):
    grads = make_grads()
    a, b = cls(lr=0.1), cls(lr=0.1)
    pa, pb = make_params(), make_params()
    a.update(pa, grads)
    b.update(pb, grads)
    np.testing.assert_array_equal(pa["W1"], pb["W1"])
    b.lr = 0.0  # freeze b: the next update must not move it
    before = {k: v.copy() for k, v in pb.items()}
    b.update(pb, grads)
    a.update(pa, grads)
    if cls is Momentum:  # momentum keeps moving with the velocity it already has
        np.testing.assert_allclose(pb["W1"], before["W1"] + b.v["W1"], rtol=1e-15)
        np.testing.assert_allclose(b.v["W1"], -0.9 * 0.1 * grads["W1"], rtol=1e-14)
    else:
        np.testing.assert_array_equal(pb["W1"], before["W1"])
        np.testing.assert_array_equal(pb["b1"], before["b1"])
    assert not np.array_equal(pa["W1"], pb["W1"])


def test_sgd_lr_doubling_doubles_the_step():
    params = make_params()
    opt = SGD(lr=0.1)
    opt.lr = 0.2
    opt.update(params, make_grads())
    np.testing.assert_allclose(params["W1"], make_params()["W1"] - 0.2 * make_grads()["W1"], rtol=1e-15)


@pytest.mark.parametrize(
    "name, lr, steps",
    [("sgd", 0.1, 200), ("momentum", 0.01, 500), ("adagrad", 0.5, 500), ("adam", 0.1, 500)],
)
def test_each_optimizer_minimizes_a_quadratic(name, lr, steps):
    # f = sum of squares over all parameters, starting (for x) at the book's ch. 6 point (-7, 2).
    params = {"x": np.array([-7.0, 2.0]), "y": np.array([[3.0, -1.0]])}
    f = lambda p: float(np.sum(p["x"] ** 2) + np.sum(p["y"] ** 2))
    start = f(params)
    opt = make_optimizer(name, lr)
    for _ in range(steps):
        grads = {k: 2 * v for k, v in params.items()}
        opt.update(params, grads)
    assert f(params) < 1e-3 * start
    assert f(params) < 0.05


def test_make_optimizer_known_names():
    for name, cls in [("sgd", SGD), ("momentum", Momentum), ("adagrad", AdaGrad), ("adam", Adam)]:
        opt = make_optimizer(name, 0.02)
        assert type(opt) is cls
        assert opt.lr == 0.02
    assert set(OPTIMIZERS) == set(DEFAULT_LR) == {"sgd", "momentum", "adagrad", "adam"}
    assert DEFAULT_LR["sgd"] == 0.1


@pytest.mark.parametrize("bad", ["rmsprop", "SGD", ""])
def test_make_optimizer_unknown_name(bad):
    with pytest.raises(ValueError, match=f"not {bad!r}") as info:
        make_optimizer(bad, 0.1)
    assert "sgd" in str(info.value) and "adam" in str(info.value)


def test_defaults_match_the_book():
    assert SGD().lr == 0.01
    m = Momentum()
    assert (m.lr, m.momentum) == (0.01, 0.9)
    assert AdaGrad().lr == 0.01
    a = Adam()
    assert (a.lr, a.beta1, a.beta2) == (0.001, 0.9, 0.999)
