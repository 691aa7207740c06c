"""Class labels as target vectors: the usual one-hot ("k") and the reference-class "k-1" encoding.

``"k"``   class ``c`` of ``k`` becomes a row of ``k`` zeros with a 1 in column ``c``.
``"k-1"`` one column fewer: class 0 is the reference class and becomes the all-zeros row; class
          ``c > 0`` gets a 1 in column ``c - 1``. This is the encoding of the ACML 8-3-8 seed
          (``seeds/003_52fd57ac508f6957.txt``, section 7)::

              class 7  <0,0,0,0,0,0,0,1>  ->  <0,0,0,0,0,0,1>
              class 0  <1,0,0,0,0,0,0,0>  ->  <0,0,0,0,0,0,0>

          The seed codes inputs *and* targets this way, so its k-1 network is 7-3-7: 7*3+3 + 3*7+7
          = 52 parameters instead of the 8-3-8 network's 8*3+3 + 3*8+8 = 59. With k-1 targets
          but the 8 one-hot inputs kept (``identity_patterns(encoding="k-1")``) it is 8-3-7:
          8*3+3 + 3*7+7 = 55. ``identity_patterns(encoding="k-1", input_encoding="k-1")`` gives
          the seed's 7-3-7 arrays.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from ._util import check_choice, check_int

ENCODINGS = ("k", "k-1")


def _integer_labels(labels) -> np.ndarray:
    """``labels`` as an int64 array; whole-valued floats are accepted, anything else refused."""
    arr = np.asarray(labels)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise GlassnetError(
            f"labels must be integers (class indices), got an array of dtype {arr.dtype}"
        )
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise GlassnetError(
                f"labels must be integers (class indices), got {arr[bad].flat[0]!r}"
            )
    return arr.astype(np.int64)


def one_hot(labels, num_classes: int | None = None, encoding: str = "k", dtype=np.float32):
    """Encode integer class labels as target vectors.

    Parameters
    ----------
    labels : array-like of int, shape (...)
        Class indices in ``[0, num_classes)``; whole-valued floats (``2.0``) are accepted.
    num_classes : int, optional
        ``k``; defaults to ``max(labels) + 1``.
    encoding : {"k", "k-1"}
        ``"k"``: ``k`` columns, a 1 in column ``c``. ``"k-1"``: ``k - 1`` columns, class 0 is the
        all-zeros reference row and class ``c > 0`` has its 1 in column ``c - 1``.
    dtype : NumPy dtype
        Of the result (float32 by default, the engine's default).

    Returns
    -------
    ndarray, shape (..., k) or (..., k - 1)
    """
    encoding = check_choice(encoding, "encoding", ENCODINGS)
    idx = _integer_labels(labels)
    if num_classes is None:
        if idx.size == 0:
            raise GlassnetError("num_classes must be given when labels is empty")
        num_classes = int(idx.max()) + 1
    num_classes = check_int(num_classes, "num_classes", 2 if encoding == "k-1" else 1)
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        bad = idx[(idx < 0) | (idx >= num_classes)].flat[0]
        raise GlassnetError(
            f"labels must lie in [0, {num_classes}) for num_classes={num_classes}, got {bad}"
        )
    full = np.zeros(idx.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(full, idx[..., None], 1, axis=-1)
    return full if encoding == "k" else full[..., 1:]


def from_one_hot(targets, encoding: str = "k", threshold: float = 0.5) -> np.ndarray:
    """Class indices from target vectors or network outputs: the inverse of :func:`one_hot`.

    Parameters
    ----------
    targets : array-like, shape (..., k) or (..., k - 1)
        Exact encodings or soft outputs (e.g. sigmoid activations).
    encoding : {"k", "k-1"}
        ``"k"``: the class is ``argmax`` over the last axis. ``"k-1"``: the class is 0 (the
        reference class) when every entry is below ``threshold``, else ``argmax + 1``.
    threshold : float
        Used by ``"k-1"`` only.

    Returns
    -------
    ndarray of int64, shape (...)
    """
    encoding = check_choice(encoding, "encoding", ENCODINGS)
    arr = np.asarray(targets)
    if arr.ndim == 0 or arr.shape[-1] == 0 or arr.dtype.kind not in "biuf":
        raise GlassnetError(
            f"targets must be a numeric array with the classes on the last axis, "
            f"got shape {arr.shape} and dtype {arr.dtype}"
        )
    best = np.argmax(arr, axis=-1).astype(np.int64)
    if encoding == "k":
        return best
    return np.where(np.max(arr, axis=-1) >= threshold, best + 1, 0)


decode = from_one_hot


def identity_patterns(n: int = 8, encoding: str = "k", dtype=np.float32, input_encoding: str = "k"):
    """The inputs and targets of the n-m-n identity autoencoder (8-3-8 in seed 003).

    Parameters
    ----------
    n : int
        Number of patterns (8 in the seed).
    encoding : {"k", "k-1"}
        Encoding of the targets.
    dtype : NumPy dtype
    input_encoding : {"k", "k-1"}
        Encoding of the inputs: ``"k"`` the ``n`` one-hot rows (the identity matrix), ``"k-1"``
        the same reference-class coding as the targets (pattern 0 is the all-zeros row). The
        seed's k-1 network codes both ways: 7-3-7, 52 parameters (8-3-7 with one-hot inputs: 55).

    Returns
    -------
    x : ndarray, shape (n, n) or (n, n - 1)
        ``one_hot(arange(n), n, input_encoding)``: for ``"k"`` the identity matrix.
    y : ndarray, shape (n, n) or (n, n - 1)
        ``one_hot(arange(n), n, encoding)``; for ``"k"`` equal to the identity matrix.
    """
    n = check_int(n, "n", 2)
    labels = np.arange(n)
    return (one_hot(labels, n, encoding=input_encoding, dtype=dtype),
            one_hot(labels, n, encoding=encoding, dtype=dtype))
