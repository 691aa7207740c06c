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


# float32 versions of the float64 functions' method (Cody-Waite reduction, Cephes expf's degree-5
# polynomial, 2^k from the exponent bits), written for a gate loop's register budget: AVX2 has 16
# vector registers, and each constant above that is reloaded (a broadcast from memory) every
# iteration. So the sigmoid is one
# formula, 1 / (1 + e^-z), for every z (no |z|, no select between two forms: relative accuracy
# holds for negative z as well, e^-z being accurate to a few ulps), e^-z evaluated from z (the
# polynomial's odd coefficients negated instead of a negation), and 2^k built with the bits of 1.0;
# the tanh copies the sign bitwise. Error against the exact values: below 2.5 ulp for |z| <= 80
# (tests/fast/test_lstm.py holds it under 3; NumPy's own float32 sigmoid: 3.1). Saturation: the
# sigmoid is 1 from z = 86 on (e^-86 is below float32's normal range; the exact value rounds to 1)
# and 0 from z = -88.4 on (k = 128: 2^k is inf; exact values there are subnormal, below 1e-38), the
# tanh +-1 from |z| = 9. NaN stays NaN: the clamps are ``lo if x < lo else x`` (every comparison
# with NaN is false), which also keeps the loops free of branches. Measured (lstm16's forward, one
# thread, interleaved, load ~1.5): 4.36 -> 4.23 ms against the two-form sigmoid of the same method.
F32_SHIFT = np.float32(12582912.0)          # 1.5 * 2^23: t = x log2(e) + SHIFT holds round(x / ln 2)
F32_LOG2E = np.float32(1.44269504088896341)
F32_LN2_HI = np.float32(0.693359375)        # ln 2 = HI + LO, k * HI exact for |k| < 2^8
F32_LN2_LO = np.float32(-2.12194440e-4)
F32_SIG_MIN = np.float32(-89.0)             # e^-z = inf below -88.4 (k = 128): the sigmoid is 0
F32_SIG_MAX = np.float32(86.0)              # e^-86 is the smallest normal-range e^-z used
F32_TANH_MAX = np.float32(9.0)              # tanh rounds to 1 beyond
F32_ONE_BITS = np.int32(0x3F800000)         # 127 << 23: the exponent field of 2^0


@njit(inline="always", nogil=True)
def _estrin5(x, x2, c0, c1, c2, c3, c4, c5):  # pragma: no cover - compiled
    """c0 + c1 x + ... + c5 x^5 (x2 = x * x) by Estrin's scheme, ``(c0 + c1 x + x^2 (c2 + c3 x)) +
    x^4 (c4 + c5 x)``: 3 dependent steps instead of Horner's 5, for one more operation. A gate
    loop runs well below the core's arithmetic rate (~14 cycles a vector of 8 for ~40
    instructions, a third of them constants reloaded for want of registers), and the shorter chain
    paid: the float32 sigmoid 0.93 -> 0.70 ns and the tanh 1.06 -> 0.77 ns an element (a loop over
    2,048, x 1,000, min of 20); the lstm16 forward kernel 0.963-0.967 of its time (both versions
    alternated in one process, 16 pairs, 1 and 2 threads). Largest errors on the test's points:
    2.21 -> 2.21 and 2.01 -> 2.24 ulps."""
    return (c0 + c1 * x + x2 * (c2 + c3 * x)) + (x2 * x2) * (c4 + c5 * x)


@njit(inline="always", nogil=True)
def _sigmoid32(z):  # pragma: no cover - compiled
    """1 / (1 + e^-z) in float32: k = round(-z / ln 2), s = z + k ln 2 = -r, e^-z = 2^k (1 + q)
    with q = e^-s - 1 = -s + s^2 P(-s)."""
    x = F32_SIG_MIN if z < F32_SIG_MIN else z
    x = F32_SIG_MAX if x > F32_SIG_MAX else x
    t = x * -F32_LOG2E + F32_SHIFT
    k = t - F32_SHIFT
    s = (x + k * F32_LN2_HI) + k * F32_LN2_LO
    s2 = s * s                            # Cephes expf's coefficients, the odd ones negated,
    p = _estrin5(s, s2, np.float32(5.0000001201e-1), np.float32(-1.6666665459e-1),    # by Estrin
                 np.float32(4.1665795894e-2), np.float32(-8.3334519073e-3),
                 np.float32(1.3981999507e-3), np.float32(-1.9875691500e-4))
    q = p * s2 - s
    # t's bits are those of 1.5 * 2^23 plus k; shifted by 23 the 1.5 * 2^23 part leaves nothing,
    # and adding 1.0's bits puts k + 127 in the exponent field: 2^k (inf at k = 128)
    two_k = np.int32((np.float32(t).view(np.int32) << np.int32(23)) + F32_ONE_BITS).view(np.float32)
    e = two_k * (np.float32(1.0) + q)     # not 2^k + 2^k q: inf - inf at k = 128
    return np.float32(1.0) / (np.float32(1.0) + e)


@njit(inline="always", nogil=True)
def _tanh32(z):  # pragma: no cover - compiled
    """sign(z) v / (v + 1), v = (e^{2a} - 1) / 2 with a = |z| capped at 9, the sign copied bitwise;
    e^{2a} = 2 2^(k-1) (1 + q), so v = 2^(k-1) q + (2^(k-1) - 1/2) (no cancellation near 0)."""
    a = abs(z)
    a = F32_TANH_MAX if a > F32_TANH_MAX else a
    x = a + a
    t = x * F32_LOG2E + F32_SHIFT
    k = t - F32_SHIFT
    r = (x - k * F32_LN2_HI) - k * F32_LN2_LO
    r2 = r * r
    p = _estrin5(r, r2, np.float32(5.0000001201e-1), np.float32(1.6666665459e-1), np.float32(4.1665795894e-2),
                 np.float32(8.3334519073e-3), np.float32(1.3981999507e-3), np.float32(1.9875691500e-4))
    q = p * r2 + r
    half_bits = (np.float32(t).view(np.int32) << np.int32(23)) + (F32_ONE_BITS - np.int32(1 << 23))
    half_2k = np.int32(half_bits).view(np.float32)     # 2^(k-1): k + 126 in the exponent field
    v = half_2k * q + (half_2k - np.float32(0.5))
    th = v / (v + np.float32(1.0))
    sign = np.float32(z).view(np.int32) & np.int32(-0x80000000)
    return np.int32(np.float32(th).view(np.int32) | sign).view(np.float32)
