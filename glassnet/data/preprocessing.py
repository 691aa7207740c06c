"""Scaling and splitting, NumPy only, with every random choice driven by an explicit seed.

Scalers are fitted on the training array only and then applied to the others, so no statistic of
the validation or test data leaks into training::

    x_train, x_test, scaler = standardize(x_train, x_test)
    x_new = scaler(x_new)                     # the same shift and scale
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GlassnetError
from ._util import as_rng


@dataclass(frozen=True)
class Scaler:
    """A fitted affine map ``x -> (x - shift) / scale``, broadcast over the sample axis.

    Attributes
    ----------
    kind : str
        ``"standardize"`` or ``"min_max"``.
    shift, scale : ndarray
        Shaped like the data with the reduced axes kept as size 1 (``keepdims``).
    offset : float
        Added after scaling (the low end of ``feature_range`` for min-max, else 0).
    """

    kind: str
    shift: np.ndarray
    scale: np.ndarray
    offset: float = 0.0

    def transform(self, x) -> np.ndarray:
        """``(x - shift) / scale + offset``, shape of ``x``."""
        x = np.asarray(x)
        self._check(x)
        return (x - self.shift) / self.scale + self.offset

    __call__ = transform

    def inverse_transform(self, z) -> np.ndarray:
        """``(z - offset) * scale + shift``: undoes :meth:`transform`."""
        z = np.asarray(z)
        self._check(z)
        return (z - self.offset) * self.scale + self.shift

    def _check(self, x: np.ndarray) -> None:
        try:
            np.broadcast_shapes(x.shape, self.shift.shape)
        except ValueError:
            raise GlassnetError(
                f"array of shape {x.shape} does not match the {self.kind} scaler fitted on "
                f"features of shape {self.shift.shape[1:]}"
            ) from None

    def __repr__(self) -> str:
        return f"Scaler(kind={self.kind!r}, features={self.shift.shape[1:]}, offset={self.offset})"


def _as_float(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" or arr.ndim == 0 or arr.shape[0] == 0:
        raise GlassnetError(
            f"{name} must be a non-empty numeric array (samples on axis 0), "
            f"got shape {arr.shape} and dtype {arr.dtype}"
        )
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _apply(train, others, fit) -> tuple:
    train = _as_float(train, "train")
    scaler = fit(train)
    out = [scaler(train)]
    for i, other in enumerate(others):
        out.append(scaler(_as_float(other, f"others[{i}]")))
    return (*out, scaler)


def standardize(train, *others, axis=0, eps: float = 1e-12) -> tuple:
    """Zero mean and unit variance, with the statistics of ``train`` only.

    Parameters
    ----------
    train : array-like, shape (n, ...)
    *others : array-like, shape (m, ...)
        Validation/test arrays, scaled with the training statistics.
    axis : int or tuple of int
        Axes the statistics are taken over: 0 gives one mean and std per feature; for images
        ``(N, H, W, C)`` use ``(0, 1, 2)`` for one per channel.
    eps : float
        A feature with std <= eps (constant) keeps scale 1, so it becomes all zeros, not NaN.

    Returns
    -------
    tuple
        ``(train_scaled, *others_scaled, scaler)``; the :class:`Scaler` holds ``shift`` = mean,
        ``scale`` = population std (``ddof=0``).
    """

    def fit(x):
        mean = x.mean(axis=axis, keepdims=True)
        std = x.std(axis=axis, keepdims=True)
        return Scaler("standardize", mean, np.where(std > eps, std, 1.0).astype(x.dtype))

    return _apply(train, others, fit)


def min_max_scale(train, *others, feature_range=(0.0, 1.0), axis=0) -> tuple:
    """Map the training range of each feature onto ``feature_range``.

    Parameters
    ----------
    train, *others, axis
        As in :func:`standardize`. Values of ``others`` outside the training range map outside
        ``feature_range``; they are not clipped.
    feature_range : (low, high)
        Target interval, ``low < high``.

    Returns
    -------
    tuple
        ``(train_scaled, *others_scaled, scaler)`` with ``x' = (x - min) / (max - min) * (high -
        low) + low``; a constant feature maps to ``low``.
    """
    low, high = (float(v) for v in feature_range)
    if not low < high:
        raise GlassnetError(f"feature_range must be (low, high) with low < high, got {feature_range!r}")

    def fit(x):
        lo = x.min(axis=axis, keepdims=True)
        span = (x.max(axis=axis, keepdims=True) - lo) / (high - low)
        return Scaler("min_max", lo, np.where(span > 0, span, 1.0).astype(x.dtype), low)

    return _apply(train, others, fit)


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise GlassnetError(
            f"x and y must have the same number of samples on axis 0, "
            f"got shapes {x.shape} and {y.shape}"
        )
    return x, y


def _part_sizes(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer parts proportional to ``fractions`` (largest remainder)."""
    exact = n * fractions
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    remainder = exact - sizes
    for i in np.argsort(-remainder, kind="stable")[: n - sizes.sum()]:
        sizes[i] += 1
    return sizes


def _split_indices(y, n: int, fractions, rng, stratify: bool) -> list[np.ndarray]:
    fractions = np.asarray(fractions, dtype=np.float64)
    if not stratify:
        order = rng.permutation(n)
        return np.split(order, np.cumsum(_part_sizes(n, fractions))[:-1])
    parts: list[list[np.ndarray]] = [[np.empty(0, np.int64)] for _ in fractions]
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        cuts = np.cumsum(_part_sizes(len(members), fractions))[:-1]
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def train_test_split(x, y, train_fraction: float = 0.5, seed=0, stratify: bool = False):
    """Shuffle with ``seed`` and cut into a training and a test part.

    Parameters
    ----------
    x : array-like, shape (n, ...)
    y : array-like, shape (n, ...)
    train_fraction : float in (0, 1)
        Share of the samples in the training part, rounded to the nearest count; both parts
        keep at least one sample.
    seed : int or numpy.random.Generator
    stratify : bool
        Keep the class proportions of ``y`` (integer labels) in both parts.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
    """
    if not (isinstance(train_fraction, (int, float)) and 0 < train_fraction < 1):
        raise GlassnetError(f"train_fraction must be a number in (0, 1), got {train_fraction!r}")
    x, y = _check_xy(x, y)
    if len(x) < 2:
        raise GlassnetError(f"cannot split {len(x)} sample(s) into a training and a test part")
    f = float(train_fraction)
    train, test = _split_indices(y, len(x), [f, 1 - f], as_rng(seed), stratify)
    if len(train) == 0 or len(test) == 0:
        raise GlassnetError(
            f"train_fraction={train_fraction} of {len(x)} samples leaves one part empty"
        )
    return (x[train], y[train]), (x[test], y[test])


def train_val_test_split(x, y, fractions=(0.7, 0.15, 0.15), seed=0, stratify: bool = False):
    """Shuffle with ``seed`` and cut into training, validation and test parts.

    Parameters
    ----------
    x : array-like, shape (n, ...)
    y : array-like, shape (n, ...)
    fractions : (train, val, test)
        Non-negative, summing to 1. Part sizes are ``n * fraction`` rounded by the largest
        remainder, so they always sum to ``n``; with ``stratify`` this is done per class.
    seed : int or numpy.random.Generator
        The same seed gives the same parts.
    stratify : bool
        Keep the class proportions of ``y`` (integer labels) in every part.

    Returns
    -------
    ((x_train, y_train), (x_val, y_val), (x_test, y_test))
    """
    try:
        fr = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):
        fr = np.asarray([np.nan])
    if fr.shape != (3,) or not np.all(fr >= 0) or abs(fr.sum() - 1) > 1e-6:
        raise GlassnetError(
            f"fractions must be three non-negative numbers (train, val, test) summing to 1, "
            f"got {fractions!r}"
        )
    x, y = _check_xy(x, y)
    if len(x) == 0:
        raise GlassnetError("cannot split 0 samples: x and y are empty")
    parts = _split_indices(y, len(x), fr, as_rng(seed), stratify)
    return tuple((x[p], y[p]) for p in parts)
