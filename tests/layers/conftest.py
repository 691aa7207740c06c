"""Helpers for the layer tests (sequence, normalization and attention layers), as a fixture ``lh``.

* ``build(layer, input_shape, M, seed)``: the layer built for ``M`` models in float64 (through a
  one-layer Sequential, so names and random streams are the model's), input gradient switched on.
* ``fd_check(layer, x, dy, **forward_kwargs)``: every parameter's ``.grad`` and ``dx`` from one
  backward pass against central differences of ``sum(forward(x) * dy)``.
* ``ensemble_vs_separate(make, input_shape, x, y, loss, seeds)``: an ensemble of networks equals
  the same networks built and run one by one (forward and every gradient, 1e-12).
* ``torch`` (a separate fixture): PyTorch in one thread, or a skip when it is not installed.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses as losses_mod

H = 1e-6


def build(layer, input_shape, M: int = 2, seed: int = 0, **model_kw):
    gn.Sequential([layer], input_shape=input_shape, models=M, seed=seed, dtype="float64", **model_kw)
    layer.need_input_grad = True
    return layer


def central_diff(f, a, h=H):
    """d f() / d a entry by entry, perturbing ``a`` in place (restored afterwards)."""
    flat = a.reshape(-1)
    out = np.zeros(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        hi = f()
        flat[i] = old - h
        lo = f()
        flat[i] = old
        out[i] = (hi - lo) / (2 * h)
    return out.reshape(a.shape)


def fd_check(layer, x, dy, check_x: bool = True, rtol: float = 1e-6, atol: float = 1e-8, train: bool = True,
             **kw):
    """Backprop of one lone layer against central differences; returns the analytic dx."""
    x = np.array(x, dtype=np.float64)
    x0, dy0 = x.copy(), dy.copy()
    layer.forward(x, train, **kw)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(x, x0)  # neither pass modifies its inputs
    np.testing.assert_array_equal(dy, dy0)
    grads = {k: p.grad.copy() for k, p in layer.params.items()}

    def f():
        return float(np.sum(layer.forward(x, train, **kw) * dy))

    for k, p in layer.params.items():
        np.testing.assert_allclose(grads[k], central_diff(f, p.value), rtol=rtol, atol=atol, err_msg=k)
    if check_x:
        total = dx.sum(axis=0) if dx.ndim > x.ndim else dx  # shared input: summed over the models
        np.testing.assert_allclose(total, central_diff(f, x), rtol=rtol, atol=atol, err_msg="dx")
    return dx


def ensemble_vs_separate(make, input_shape, x, y, loss="mse", seeds=(0, 1, 2), tol=1e-12, **model_kw):
    """Model m of ``Sequential(make(), seed=list(seeds))`` equals ``Sequential(make(), seed=seeds[m])``."""
    loss = losses_mod.get(loss)
    ens = gn.Sequential(make(), input_shape=input_shape, seed=list(seeds), dtype="float64", **model_kw)
    yt = loss.prepare_targets(y, ens.output_shape)
    pred = ens.forward(np.asarray(x, np.float64), True)
    ens.backward(loss.grad(pred, yt))
    for m, s in enumerate(seeds):
        one = gn.Sequential(make(), input_shape=input_shape, seed=s, dtype="float64", **model_kw)
        xm = x[m] if np.ndim(x) == len(input_shape) + 2 else x
        p1 = one.forward(np.asarray(xm, np.float64), True)
        one.backward(loss.grad(p1, yt))
        np.testing.assert_allclose(pred[m], p1[0], rtol=tol, atol=tol)
        assert [p.name for p in ens.param_list] == [p.name for p in one.param_list]
        for pe, po in zip(ens.param_list, one.param_list):
            np.testing.assert_array_equal(pe.value[m], po.value[0], err_msg=pe.name)
            np.testing.assert_allclose(pe.grad[m], po.grad[0], rtol=tol, atol=tol, err_msg=pe.name)
    return ens


def roundtrip(model, x, tmp_path):
    """save/load keeps the architecture (through the layer registry) and the outputs."""
    path = model.save(tmp_path / "model.npz")
    back = gn.load_model(path)
    assert back.config() == model.config()
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    return back


@pytest.fixture
def lh():
    return SimpleNamespace(build=build, central_diff=central_diff, fd_check=fd_check,
                           ensemble_vs_separate=ensemble_vs_separate, roundtrip=roundtrip)


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: torch's thread pool only costs time here
    yield torch
    torch.set_num_threads(threads)
