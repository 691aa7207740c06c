"""exp, expm1, sigmoid and tanh that the compiler can vectorize, for the compiled kernels.

Numba calls libm for ``np.exp`` and ``np.tanh`` one number at a time (its SIMD math library, SVML,
needs an Intel-patched LLVM that pip's llvmlite is not), so a loop over models that applies a
sigmoid runs scalar: in the seed-003 sweep shape it was most of a training step. These functions
use only arithmetic, comparisons and bit casts, so a loop calling them becomes AVX2 code
(``python benchmarks/vector_math.py`` times both: 4-10x at load 1, 7-19x at load 3.5).

The method (Cody-Waite range reduction, as in Cephes and every vector math library)::

    exp(x) = 2^k * e^r,   k = round(x / ln 2),   r = x - k ln 2  (|r| <= ln2 / 2)
    e^r - 1 = r + r^2/2! + ... + r^12/12!      (Taylor; the first omitted term < 2e-16 relative;
                                               evaluated by Estrin's scheme)
    2^k     = 2 x the float64 whose exponent bits are k - 1 + 1023

``k`` is rounded by adding 1.5 * 2^52 (the float then holds k in its low bits), so no
float-to-integer conversion, which AVX2 lacks for 64-bit integers, is needed. Errors against
libm: below 5e-16 relative (about 2 ulps) over the whole range (``tests/fast/test_elementwise.py``).

The ``v*`` functions compute in float64 whatever their argument's type; :func:`sigmoid` and
:func:`tanh` pick, when a kernel compiles, float32 versions for float32 arguments (the same method
with a degree-5 polynomial: 8 lanes a vector, ~3x faster on float32 data). Compiled with
``error_model="numpy"`` callers, a division does not check for zero (Python's check is a branch
that stops vectorization).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01   # ln 2 split in two so k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
ROUNDING_SHIFT = 6755399441055744.0   # 1.5 * 2^52
EXP_MAX = 710.0                       # beyond exp(709.78) float64 overflows to inf
EXP_MIN = -708.0                      # below, 2^k is subnormal; the result is flushed to 0


@njit(inline="always", nogil=True, cache=True)
def _reduced(x):  # pragma: no cover - compiled
    """``(2^(k-1), e^r - 1)`` for ``x`` clamped to ``[EXP_MIN, EXP_MAX]``: exp(x) = 2 * 2^(k-1) (1 + q).
    Halving keeps the exponent bits valid at k = 1024; the final doubling overflows to inf."""
    xc = min(max(np.float64(x), EXP_MIN), EXP_MAX)
    t = xc * LOG2E + ROUNDING_SHIFT
    k = t - ROUNDING_SHIFT
    r = xc - k * LN2_HI - k * LN2_LO
    # q = r P(r), P(r) = sum_{i<12} r^i / (i+1)!, by Estrin's scheme: pairs, then pairs of
    # pairs, so the dependency chain is ~7 operations deep instead of Horner's 24 (latency, not
    # throughput, bounds a loop of these)
    r2 = r * r
    r4 = r2 * r2
    a0 = 1.0 + r * 0.5
    a1 = 1.0 / 6.0 + r * (1.0 / 24.0)
    a2 = 1.0 / 120.0 + r * (1.0 / 720.0)
    a3 = 1.0 / 5040.0 + r * (1.0 / 40320.0)
    a4 = 1.0 / 362880.0 + r * (1.0 / 3628800.0)
    a5 = 1.0 / 39916800.0 + r * (1.0 / 479001600.0)
    b0 = a0 + a1 * r2
    b1 = a2 + a3 * r2
    b2 = a4 + a5 * r2
    q = r * ((b0 + b1 * r4) + b2 * (r4 * r4))
    half_2k = np.int64((np.float64(t).view(np.int64) + 1022) << 52).view(np.float64)
    return half_2k, q


@njit(inline="always", nogil=True, cache=True)
def vexp(x):  # pragma: no cover - compiled
    """e^x in float64: 0 below -708, inf above 709.78, NaN for NaN."""
    h, q = _reduced(x)
    y = (h + h * q) * 2.0
    if x < EXP_MIN:
        y = 0.0
    if x != x:
        y = x
    return y


@njit(inline="always", nogil=True, cache=True)
def vexpm1(x):  # pragma: no cover - compiled
    """e^x - 1, accurate near 0 (no cancellation: for k = 0 it is the polynomial itself)."""
    h, q = _reduced(x)
    y = (h * q + (h - 0.5)) * 2.0   # h - 0.5 is exact; doubling last keeps k = 1024 finite
    if x < EXP_MIN:
        y = -1.0
    if x != x:
        y = x
    return y


@njit(inline="always", nogil=True, cache=True)
def vsigmoid(z):  # pragma: no cover - compiled
    """1 / (1 + e^-z), from e = e^-|z| <= 1 so nothing overflows: 1/(1+e) for z >= 0,
    e/(1+e) below."""
    e = vexp(-abs(np.float64(z)))
    s = 1.0 / (1.0 + e)
    return s if z >= 0 else e * s


@njit(inline="always", nogil=True, cache=True)
def vtanh(z):  # pragma: no cover - compiled
    """tanh z = sign(z) u / (u + 2) with u = e^{2|z|} - 1 (accurate for small |z|; 1 beyond 20,
    where the quotient rounds to 1 anyway)."""
    a = abs(np.float64(z))
    u = vexpm1(2.0 * min(a, 20.0))
    t = u / (u + 2.0)
    t = t if z >= 0 else -t
    if z != z:
        t = z
    return t


# -- sigmoid and tanh in the argument's precision (the LSTM kernel's gates, float32 or float64) ---------------------------------------------------------
def sigmoid(z):
    """1 / (1 + e^-z) in the argument's precision: float64 by :func:`glassnet.fast.elementwise.vsigmoid`,
    float32 by :func:`_sigmoid32` (chosen when a kernel compiles)."""
    return 1.0 / (1.0 + np.exp(-z))


def tanh(z):
    """tanh z in the argument's precision (float64: ``vtanh``, float32: :func:`_tanh32`)."""
    return np.tanh(z)


@overload(sigmoid)
def _sigmoid_typed(z):  # pragma: no cover - compile-time dispatch
    return (lambda z: _sigmoid32(z)) if z == types.float32 else (lambda z: vsigmoid(z))


@overload(tanh)
def _tanh_typed(z):  # pragma: no cover - compile-time dispatch
    return (lambda z: _tanh32(z)) if z == types.float32 else (lambda z: vtanh(z))


# float32 versions of elementwise.py's method (Cody-Waite reduction, then Cephes expf's degree-5
# polynomial), computed in float32 throughout: 8 lanes a vector and a shorter polynomial make them
# ~3x faster than the float64 functions on float32 gates (measured 2.7 against 8.9 ns/element).
# Error against the exact values below 3 ulp for |z| < 80 (NumPy's float32 sigmoid: 3.1).
# Clamps are written ``lo if x < lo else x`` so that NaN (every comparison false) stays NaN
# without a NaN test, which kept the loops from vectorizing.
F32_EXP_MIN = np.float32(-86.0)   # 2^(k-1) stays a normal float32
F32_EXP_MAX = np.float32(88.0)


@njit(inline="always", nogil=True)
def _reduced32(x):  # pragma: no cover - compiled
    """``(2^(k-1), e^r - 1)`` in float32, exp(x) = 2 * 2^(k-1) (1 + q); x clamped to [-86, 88]."""
    xc = F32_EXP_MIN if x < F32_EXP_MIN else x
    xc = F32_EXP_MAX if xc > F32_EXP_MAX else xc
    t = xc * np.float32(1.44269504088896341) + np.float32(12582912.0)  # + 1.5 * 2^23 rounds to k
    k = t - np.float32(12582912.0)
    r = (xc - k * np.float32(0.693359375)) - k * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    q = p * r * r + r
    # t's bits are those of 1.5 * 2^23 plus k: the exponent field of 2^(k-1) is k - 1 + 127
    half_2k = np.int32((np.float32(t).view(np.int32) - np.int32(0x4B400000) + np.int32(126)) << np.int32(23))
    return half_2k.view(np.float32), q


@njit(inline="always", nogil=True)
def _sigmoid32(z):  # pragma: no cover - compiled
    """1 / (1 + e^-|z|) for z >= 0, e^-|z| / (1 + e^-|z|) below (nothing overflows; 0 below -86)."""
    n = -abs(z)
    h, q = _reduced32(n)
    e = (h + h * q) * np.float32(2.0)
    e = np.float32(0.0) if n < F32_EXP_MIN else e   # below, e^n is subnormal or 0: 0 (NumPy's limit)
    s = np.float32(1.0) / (np.float32(1.0) + e)
    return s if z >= 0 else e * s


@njit(inline="always", nogil=True)
def _tanh32(z):  # pragma: no cover - compiled
    """sign(z) u / (u + 2), u = e^{2|z|} - 1 (|z| capped at 9, where tanh rounds to 1 in float32)."""
    a = abs(z)
    a = np.float32(9.0) if a > np.float32(9.0) else a
    h, q = _reduced32(np.float32(2.0) * a)
    u = (h * q + (h - np.float32(0.5))) * np.float32(2.0)   # e^{2a} - 1 without cancellation near 0
    t = u / (u + np.float32(2.0))
    return t if z >= 0 else -t
