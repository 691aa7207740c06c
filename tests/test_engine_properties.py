"""Property tests (Hypothesis): shapes for random sizes and model counts, and invariants that hold
for any input (softmax rows sum to 1, batch norm standardizes, losses are non-negative)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import activations as acts
from glassnet import losses as losses_mod

FAST = settings(max_examples=25, deadline=None, database=None, derandomize=True)  # reproducible in CI
sizes = st.integers(1, 6)
models = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


@FAST
@given(n_in=sizes, units=sizes, B=sizes, M=models, shared=st.booleans(), use_bias=st.booleans(), seed=seeds)
def test_dense_shapes(n_in, units, B, M, shared, use_bias, seed):
    rng = np.random.default_rng(seed)
    model = gn.Sequential([gn.Dense(units, use_bias=use_bias), gn.Dense(2)], input_shape=(n_in,),
                          models=M, dtype="float64")
    x = rng.standard_normal((B, n_in) if shared else (M, B, n_in))
    out = model.forward(x, train=True)
    assert out.shape == (M, B, 2)
    dense = model.layers[0]
    dense.need_input_grad = True
    dx = model.backward(np.ones_like(out))
    assert dx.shape == (M, B, n_in)
    for p in model.param_list:
        assert p.grad.shape == p.value.shape and p.value.shape[0] == M
    assert dense.W.value.shape == (M, n_in, units)
    assert model.predict(x).shape == (M, B, 2)  # models= given: an ensemble, even of one
    assert model.param_count() == n_in * units + use_bias * units + units * 2 + 2


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), B=st.integers(2, 5), M=models, seed=seeds,
       momentum=st.floats(0, 1))
def test_batchnorm_shapes_and_standardization(shape, B, M, seed, momentum):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    bn = gn.BatchNorm(momentum=momentum)
    model = gn.Sequential([bn], input_shape=shape, models=M, dtype="float64")
    x = 3.0 + 2.0 * rng.standard_normal((M, B) + shape)
    y = model.forward(x, train=True)
    assert y.shape == x.shape
    axes = tuple(range(1, x.ndim - 1))
    var = x.var(axis=axes)
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=axes), var / (var + bn.eps), rtol=1e-9, atol=1e-12)
    n = int(np.prod([x.shape[a] for a in axes]))
    np.testing.assert_allclose(bn.buffers["running_mean"], momentum * x.mean(axis=axes), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_var"], (1 - momentum) + momentum * var * n / (n - 1),
                               rtol=1e-9)
    assert bn.buffers["running_mean"].shape == (M, shape[-1])
    assert model.backward(np.ones_like(y)).shape == x.shape


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), B=sizes, M=models, shared=st.booleans(),
       seed=seeds)
def test_flatten_shapes_and_order(shape, B, M, shared, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    model = gn.Sequential([gn.Flatten(), gn.Dense(2)], input_shape=shape, models=M, dtype="float64")
    flat = model.layers[0]
    x = rng.standard_normal((B,) + shape if shared else (M, B) + shape)
    y = flat.forward(x, train=True)
    np.testing.assert_array_equal(y, x.reshape(x.shape[:x.ndim - len(shape)] + (-1,)))  # row-major
    assert model.layers[1].input_shape == (int(np.prod(shape)),)
    out = model.forward(x, train=True)
    assert out.shape == (M, B, 2)
    model.layers[0].need_input_grad = True
    dy = rng.standard_normal((M, B, int(np.prod(shape))))
    np.testing.assert_array_equal(flat.backward(dy), dy.reshape((M, B) + shape))


logits = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5),
                    elements=st.floats(-1e3, 1e3))


@FAST
@given(z=logits, shift=st.floats(-100, 100))
def test_softmax_rows_are_distributions_and_shift_invariant(z, shift):
    p = acts.softmax(z)
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(acts.softmax(z + shift), p, rtol=1e-9, atol=1e-12)
    # monotone: the largest logit gets the largest probability (ties allowed)
    np.testing.assert_array_equal(np.take_along_axis(p, z.argmax(-1)[..., None], -1)[..., 0], p.max(-1))


@FAST
@given(z=logits)
def test_sigmoid_tanh_symmetries(z):
    s, t = acts.get("sigmoid"), acts.get("tanh")
    assert np.all((s(z) >= 0) & (s(z) <= 1))
    np.testing.assert_allclose(s(-z), 1 - s(z), atol=1e-15)
    np.testing.assert_allclose(t(z), 2 * s(2 * z) - 1, atol=1e-14)
    np.testing.assert_allclose(acts.get("softplus")(z) - acts.get("softplus")(-z), z, atol=1e-9)


@FAST
@given(M=models, B=sizes, K=st.integers(2, 5), seed=seeds)
def test_losses_are_non_negative_per_model(M, B, K, seed):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal((M, B, K))
    labels = rng.integers(0, K, B)
    onehot = np.eye(K)[labels]
    for name, pred, y in [("mse", z, onehot), ("half_sse", z, onehot), ("softmax_cross_entropy", z, labels),
                          ("cross_entropy", acts.softmax(z), labels), ("binary_cross_entropy_logits", z, onehot),
                          ("binary_cross_entropy", 1 / (1 + np.exp(-z)), onehot)]:
        value = losses_mod.get(name).value(pred, y)
        assert value.shape == (M,) and np.all(value >= 0), name
    # the fused loss on logits equals cross-entropy on softmax probabilities
    np.testing.assert_allclose(losses_mod.get("softmax_cross_entropy").value(z, labels),
                               losses_mod.get("cross_entropy").value(acts.softmax(z), labels), rtol=1e-9)
    np.testing.assert_allclose(losses_mod.get("softmax_cross_entropy").value(z, onehot),
                               losses_mod.get("softmax_cross_entropy").value(z, labels), rtol=1e-12)
