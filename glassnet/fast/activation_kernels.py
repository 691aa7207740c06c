"""Sigmoid and tanh over whole arrays, compiled: the fast path of :mod:`glassnet.activations`.

NumPy's ``tanh`` (the reference sigmoid is ``0.5 tanh(z/2) + 0.5``) costs ~40 ns a float64 value
here (``benchmarks/vector_math.py``); one pass of :mod:`glassnet.fast.elementwise`'s functions
costs ~3. In a study that logs often (every logged step runs the reference layers, then a probe's
forward pass) this was the largest single cost of the autoencoder-838 study's logged steps.

The values are elementwise, so they do not depend on the array's shape, the number of models or
how an ensemble is split: every chunk of an ensemble and every single fit computes the same
numbers. Against the reference: float64 within 1e-15 relative, float32 within 4 ulp
(``tests/fast/test_activation_kernels.py``). Imported only once Numba is known to load.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.elementwise import sigmoid, tanh


@njit(cache=True, nogil=True, error_model="numpy")
def _sigmoid_flat(z, out):  # pragma: no cover - compiled
    for i in range(z.shape[0]):
        out[i] = sigmoid(z[i])


@njit(cache=True, nogil=True, error_model="numpy")
def _tanh_flat(z, out):  # pragma: no cover - compiled
    for i in range(z.shape[0]):
        out[i] = tanh(z[i])


_FLAT = {"sigmoid": _sigmoid_flat, "tanh": _tanh_flat}


def apply(name: str, z: np.ndarray) -> np.ndarray:
    """``f(z)`` for ``name`` in ``("sigmoid", "tanh")``, a new array of z's shape and dtype."""
    zc = np.ascontiguousarray(z)
    out = np.empty(zc.shape, zc.dtype)
    _FLAT[name](zc.reshape(-1), out.reshape(-1))
    return out
