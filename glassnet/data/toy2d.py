"""The TensorFlow Playground's 2-D data sets, their input features, and a few multi-class sets.

The generators follow tensorflow/playground ``src/dataset.ts`` (``playground.ts`` passes the
0-50 % noise slider to them as a fraction, as ``noise`` here does), vectorized and driven by
``numpy.random.default_rng(seed)``. Differences from the Playground:

* labels are 0/1 (``labels="pm1"`` gives the Playground's -1/+1; Playground +1 is class 1);
* ``n`` is exact (an odd ``n`` gives the second class one point fewer);
* the points come back shuffled (``shuffle=False`` keeps them grouped by class).

Every function returns ``X`` of shape ``(n, 2)`` (float64, columns ``x1, x2``) and ``y`` of
shape ``(n,)``: int64 class labels for classification, float64 targets for regression.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from ..registry import Registry
from ._util import as_rng, check_choice, check_float, check_int
from .preprocessing import train_test_split

LABELS = ("01", "pm1")


def _common(n, noise, seed, labels=None):
    n = check_int(n, "n", 1)
    noise = check_float(noise, "noise", 0.0, 0.5)
    if labels is not None:
        check_choice(labels, "labels", LABELS)
    return n, noise, as_rng(seed)


def _halves(n: int) -> tuple[int, int]:
    return n - n // 2, n // 2


def _finish(x, y, rng, shuffle: bool, labels: str | None = None):
    if labels == "pm1":
        y = 2 * y - 1
    if shuffle:
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    return x, y


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    # The Playground's convention: x = r sin(angle), y = r cos(angle).
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)])


def circle(n: int = 500, noise: float = 0.0, seed=0, labels: str = "01", shuffle: bool = True):
    """A disc of class 1 (radius < 2.5) inside a ring of class 0 (radius 3.5 to 5).

    Noise moves the point used for labelling, not the point itself: each label is that of
    ``p + u`` with ``u ~ U(-5, 5)^2 * noise``, so noise flips labels near the boundary.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int64, shape (n,)
    """
    n, noise, rng = _common(n, noise, seed, labels)
    n_in, n_out = _halves(n)
    r = np.concatenate([rng.uniform(0, 2.5, n_in), rng.uniform(3.5, 5.0, n_out)])
    x = _polar(r, rng.uniform(0, 2 * np.pi, n))
    shifted = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = (np.hypot(shifted[:, 0], shifted[:, 1]) < 2.5).astype(np.int64)
    return _finish(x, y, rng, shuffle, labels)


def xor(n: int = 500, noise: float = 0.0, seed=0, labels: str = "01", shuffle: bool = True):
    """Class 1 where ``x1 * x2 >= 0`` (quadrants I and III), class 0 elsewhere.

    Coordinates are ``U(-5, 5)`` pushed 0.3 away from each axis; as in :func:`circle`, noise
    ``U(-5, 5)^2 * noise`` moves only the point the label is computed from.
    """
    n, noise, rng = _common(n, noise, seed, labels)
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = (shifted[:, 0] * shifted[:, 1] >= 0).astype(np.int64)
    return _finish(x, y, rng, shuffle, labels)


def gauss(n: int = 500, noise: float = 0.0, seed=0, labels: str = "01", shuffle: bool = True):
    """Two Gaussian clouds: class 1 around (2, 2), class 0 around (-2, -2).

    The variance grows linearly with noise, from 0.5 at ``noise=0`` to 4 at ``noise=0.5``.
    """
    n, noise, rng = _common(n, noise, seed, labels)
    n_pos, n_neg = _halves(n)
    std = np.sqrt(0.5 + noise * (4 - 0.5) / 0.5)
    centers = np.repeat([[2.0, 2.0], [-2.0, -2.0]], [n_pos, n_neg], axis=0)
    x = centers + rng.normal(0.0, std, (n, 2))
    y = np.repeat(np.array([1, 0], dtype=np.int64), [n_pos, n_neg])
    return _finish(x, y, rng, shuffle, labels)


def spiral(n: int = 500, noise: float = 0.0, seed=0, labels: str = "01", classes: int = 2,
           shuffle: bool = True):
    """Interleaved spiral arms, one per class (two in the Playground).

    Point ``i`` of an arm of ``m`` points has radius ``r = 5 i / m`` and angle
    ``t = 1.75 * 2 pi i / m + delta``; arm ``j`` of ``k`` has ``delta = pi + 2 pi j / k`` (for
    ``k = 2``: class 1 at 0 and class 0 at pi, as in the Playground). Noise ``U(-1, 1)^2 * noise``
    is added to the coordinates.

    Parameters
    ----------
    classes : int in [2, 8]
        Number of arms; ``labels="pm1"`` needs ``classes=2``.
    """
    n, noise, rng = _common(n, noise, seed, labels)
    classes = check_int(classes, "classes", 2, 8)
    if labels == "pm1" and classes != 2:
        raise GlassnetError(f"labels='pm1' needs classes=2, got classes={classes}")
    sizes = np.full(classes, n // classes) + (np.arange(classes) < n % classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    i = np.concatenate([np.arange(m) for m in sizes])
    m = sizes[y]
    delta = np.mod(np.pi + 2 * np.pi * y / classes, 2 * np.pi)
    x = _polar(5.0 * i / m, 1.75 * i / m * 2 * np.pi + delta)
    x += rng.uniform(-1, 1, (n, 2)) * noise
    return _finish(x, y, rng, shuffle, labels)


def plane(n: int = 1200, noise: float = 0.0, seed=0):
    """Regression on a tilted plane: ``y = (x1 + x2) / 10`` over ``U(-6, 6)^2``.

    The target is computed at ``p + u`` with ``u ~ U(-6, 6)^2 * noise``: without noise it lies
    in [-1.2, 1.2], and noise widens that by up to ``1.2 * noise`` on each side.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of float64, shape (n,)
    """
    n, noise, rng = _common(n, noise, seed)
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    return x, shifted.sum(axis=1) / 10.0


#: The six bumps of :func:`multi_gaussian`: (centre x1, centre x2, sign).
GAUSSIANS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def multi_gaussian(n: int = 1200, noise: float = 0.0, seed=0):
    """Regression on six signed cones ("multi-gaussian" in the Playground).

    Each bump ``(c, s)`` of :data:`GAUSSIANS` contributes ``s * max(0, 1 - |p - c| / 2)``; the
    target is the contribution largest in absolute value (0 far from every centre). As in
    :func:`plane`, the target is computed at ``p + U(-6, 6)^2 * noise``.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of float64 in [-1, 1], shape (n,)
    """
    n, noise, rng = _common(n, noise, seed)
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    dist = np.linalg.norm(shifted[:, None, :] - GAUSSIANS[None, :, :2], axis=-1)  # (n, 6)
    value = GAUSSIANS[:, 2] * np.clip(1 - dist / 2, 0, 1)
    pick = np.argmax(np.abs(value), axis=1)  # the first of equals, like the Playground's ">"
    return x, value[np.arange(n), pick] + 0.0


def blobs(n: int = 600, classes: int = 3, noise: float = 0.0, seed=0, shuffle: bool = True):
    """``classes`` Gaussian clouds with centres evenly spaced on a circle of radius 4.

    Class ``j`` is centred at angle ``2 pi j / classes``; the standard deviation grows with
    noise from 0.5 (``noise=0``) to 1.5 (``noise=0.5``). Class sizes differ by at most one.

    Parameters
    ----------
    classes : int in [2, 8]

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int64 in [0, classes), shape (n,)
    """
    n, noise, rng = _common(n, noise, seed)
    classes = check_int(classes, "classes", 2, 8)
    sizes = np.full(classes, n // classes) + (np.arange(classes) < n % classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    angle = 2 * np.pi * y / classes
    centers = 4.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    x = centers + rng.normal(0.0, 0.5 + 2 * noise, (n, 2))
    return _finish(x, y, rng, shuffle)


# --- input features -------------------------------------------------------------------------

features_registry: Registry = Registry("feature")
features_registry.register("x1")(lambda x1, x2: x1)
features_registry.register("x2")(lambda x1, x2: x2)
features_registry.register("x1^2", "x1_sq", "x1sq")(lambda x1, x2: x1 * x1)
features_registry.register("x2^2", "x2_sq", "x2sq")(lambda x1, x2: x2 * x2)
features_registry.register("x1x2", "x1*x2")(lambda x1, x2: x1 * x2)
features_registry.register("sin(x1)", "sin_x1")(lambda x1, x2: np.sin(x1))
features_registry.register("sin(x2)", "sin_x2")(lambda x1, x2: np.sin(x2))

#: The Playground's seven input features, in its order.
FEATURE_NAMES = ("x1", "x2", "x1^2", "x2^2", "x1x2", "sin(x1)", "sin(x2)")


def features(X, names=("x1", "x2")) -> np.ndarray:
    """The Playground's input features of 2-D points, one column per name.

    Parameters
    ----------
    X : array-like, shape (n, 2)
        Columns ``x1, x2``.
    names : sequence of str
        From ``x1, x2, x1^2 (x1_sq), x2^2 (x2_sq), x1x2, sin(x1), sin(x2)``; case and ``-``/``_``
        do not matter. An unknown name raises a GlassnetError listing the valid ones.

    Returns
    -------
    ndarray, shape (n, len(names))
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise GlassnetError(f"X must have shape (n, 2), got {X.shape}")
    if isinstance(names, str):
        names = [names]
    if len(names) == 0:
        raise GlassnetError(f"names must list at least one of {', '.join(FEATURE_NAMES)}")
    columns = [features_registry.get(name)(X[:, 0], X[:, 1]) for name in names]
    return np.column_stack(columns)


def split(X, y, train_fraction: float = 0.5, seed=0):
    """Shuffle and split into training and test parts (the Playground's "ratio" slider).

    Returns
    -------
    ((X_train, y_train), (X_test, y_test))
        ``round(n * train_fraction)`` training samples; see
        :func:`glassnet.data.preprocessing.train_test_split`.
    """
    return train_test_split(X, y, train_fraction=train_fraction, seed=seed)
