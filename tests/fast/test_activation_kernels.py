"""The compiled sigmoid/tanh behind glassnet.activations: equal to the reference to rounding,
the same numbers whatever the shape or split, and a fallback with one warning if they fail."""

import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

import glassnet as gn  # noqa: E402
from glassnet import activations  # noqa: E402


@pytest.fixture(autouse=True)
def _fast_path_on():
    """These tests are about the compiled kernel: on even in CI's GLASSNET_FAST=0 pass."""
    with gn.fast.forced(True):
        yield


def _values(dtype, shape=(20, 8, 8)):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 6, shape).astype(dtype)
    z.flat[:6] = [0.0, -0.0, 80.0, -80.0, 1e-30, -1e-30]
    return z


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("dtype,ulps", [(np.float64, 4.5), (np.float32, 4)])
def test_fast_equals_reference(name, dtype, ulps):
    """Within a few units of 1's last place of the reference, and within a few ulps of the exact
    value relative to itself: sharper than the reference's own ``0.5 tanh(z/2) + 0.5``, which
    loses relative digits where the sigmoid is small (1% at 1e-6 in float32)."""
    fn = activations.get(name)
    z = _values(dtype)
    got = fn(z)
    with gn.fast.reference():
        want = fn(z)
    eps = np.finfo(dtype).eps
    assert got.dtype == want.dtype == dtype and got.shape == z.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * eps)
    from scipy.special import expit
    exact = expit(z.astype(np.float64)) if name == "sigmoid" else np.tanh(z.astype(np.float64))
    np.testing.assert_allclose(got, exact, rtol=ulps * eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_same_numbers_whatever_the_shape_or_split(name):
    """A model's values do not depend on the ensemble around it (the reference's formula choice
    does, at MANY_MODELS): single fits and ensemble members agree bit for bit."""
    fn = activations.get(name)
    z = _values(np.float64, (40, 8, 8))
    whole = fn(z)
    np.testing.assert_array_equal(fn(z[:3]), whole[:3])
    np.testing.assert_array_equal(fn(z[7:8]), whole[7:8])
    np.testing.assert_array_equal(fn(z[:, ::2].copy()), whole[:, ::2])   # also from a strided view:
    np.testing.assert_array_equal(fn(z[:, ::2]), whole[:, ::2])


def test_nan_and_inf():
    z = np.array([np.nan, np.inf, -np.inf])
    s = activations.sigmoid(z)
    t = activations.get("tanh")(z)
    assert np.isnan(s[0]) and s[1] == 1.0 and s[2] == 0.0
    assert np.isnan(t[0]) and t[1] == 1.0 and t[2] == -1.0


def test_a_failing_kernel_falls_back_with_one_warning(monkeypatch):
    from glassnet.fast import activation_kernels

    def broken(name, z):
        raise RuntimeError("no kernel")

    monkeypatch.setattr(activation_kernels, "apply", broken)
    monkeypatch.setattr(gn.fast, "_broken", set())
    z = _values(np.float64)
    with gn.fast.reference():
        want = activations.sigmoid(z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = activations.sigmoid(z)
        b = activations.sigmoid(z)
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(b, want)
    assert [type(w.message) for w in caught] == [gn.fast.FastPathWarning]
