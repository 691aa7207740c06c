"""The vectorizable exp/expm1/sigmoid/tanh of glassnet.fast.elementwise against NumPy's libm."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from glassnet.fast import elementwise as ew  # noqa: E402


@numba.njit(error_model="numpy")
def _apply(code, x, out):
    for i in range(x.shape[0]):
        if code == 0:
            out[i] = ew.vexp(x[i])
        elif code == 1:
            out[i] = ew.vexpm1(x[i])
        elif code == 2:
            out[i] = ew.vsigmoid(x[i])
        else:
            out[i] = ew.vtanh(x[i])


def apply(name, x):
    out = np.empty(x.shape, np.float64)
    _apply(["exp", "expm1", "sigmoid", "tanh"].index(name), np.ascontiguousarray(x, np.float64), out)
    return out


def sigmoid(x):
    from scipy.special import expit
    return expit(x)


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e-300, 5e-324, 709.78, 709.79, -708.0, -720.0])


def test_exp_is_within_about_two_ulps_of_libm_over_its_range():
    x = np.concatenate([np.linspace(-708, 709.7, 400_001), np.random.default_rng(0).normal(0, 3, 100_000)])
    np.testing.assert_allclose(apply("exp", x), np.exp(x), rtol=5e-16, atol=0)


def test_exp_specials_overflow_underflow_and_nan():
    got = apply("exp", SPECIALS)
    with np.errstate(over="ignore"):
        want = np.exp(SPECIALS)
    want[SPECIALS < -708] = 0.0            # flushed where libm returns subnormals
    np.testing.assert_allclose(got, want, rtol=5e-16, atol=0)
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == 0.0 and got[9] == np.inf


@pytest.mark.parametrize("name,oracle", [("expm1", np.expm1), ("sigmoid", sigmoid), ("tanh", np.tanh)])
def test_relative_error_near_zero_and_across_the_range(name, oracle):
    """Near 0 a formula like 1 - 2/(e^{2x}+1) would lose every digit; these keep them."""
    x = np.concatenate([np.geomspace(1e-300, 1e-3, 2001), -np.geomspace(1e-300, 1e-3, 2001),
                        np.linspace(-700, 700, 200_001)])
    got, want = apply(name, x), oracle(x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("name,oracle", [("expm1", np.expm1), ("sigmoid", sigmoid), ("tanh", np.tanh)])
def test_specials(name, oracle):
    got = apply(name, SPECIALS)
    with np.errstate(all="ignore"):
        want = oracle(SPECIALS)
    finite = np.isfinite(want) & (SPECIALS > -708)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-15, atol=1e-320)  # subnormal inputs may flush
    assert np.isnan(got[0])
    assert got[1] == want[1] and got[2] == pytest.approx(want[2], abs=1e-300)


def test_a_loop_of_them_is_compiled_to_vector_instructions():
    """The point of the module: the model loop must become SIMD (ymm registers on AVX2). Where the
    CPU has no AVX this cannot be checked."""
    apply("sigmoid", np.zeros(8))
    asm = next(iter(_apply.inspect_asm().values()))
    if "ymm" not in asm and "zmm" not in asm:
        pytest.skip("no 256-bit vector registers in this build")
    # libm's exp would appear as calls inside the loop; none remain
    assert "exp@" not in asm and "tanh@" not in asm and "call\texp" not in asm
