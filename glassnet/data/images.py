"""Small image sets: scikit-learn's bundled digits and a procedural set of coloured shapes.

Images are channels-last ``(N, H, W, C)`` float arrays in [0, 1], labels int64 ``(N,)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from ._util import as_rng, check_float, check_int, optional_import


def digits(dtype=np.float32):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

    Returns
    -------
    x : ndarray, shape (1797, 8, 8, 1)
        Grey levels 0..16 divided by 16, so in [0, 1].
    y : ndarray of int64, shape (1797,)
        The digit, 0..9.
    """
    sk_datasets = optional_import("sklearn.datasets", "digits()")
    bunch = sk_datasets.load_digits()
    x = (bunch.images / 16.0).astype(dtype)[..., None]
    return x, bunch.target.astype(np.int64)


# --- procedural shapes ----------------------------------------------------------------------
# Each shape is a signed distance function of shape-local coordinates (x right, y up, the shape
# roughly inside the unit disc): negative inside, positive outside, in units of the shape radius.


def _box(x, y, half_w, half_h):
    return np.maximum(np.abs(x) - half_w, np.abs(y) - half_h)


def _plus(x, y):
    return np.minimum(_box(x, y, 0.28, 1.0), _box(x, y, 1.0, 0.28))


def _triangle(x, y):
    # Equilateral, pointing up, vertices on the unit circle: three half-planes at distance 1/2.
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    return np.maximum.reduce([-y, c * x + s * y, -c * x + s * y]) - 0.5


_R2 = np.float32(np.sqrt(0.5))

_SDF = {
    "circle": lambda x, y: np.hypot(x, y) - 0.9,
    "square": lambda x, y: _box(x, y, 0.75, 0.75),
    "triangle": _triangle,
    "cross": _plus,
    "ring": lambda x, y: np.abs(np.hypot(x, y) - 0.72) - 0.22,
    "horizontal_bar": lambda x, y: _box(x, y, 1.0, 0.3),
    "vertical_bar": lambda x, y: _box(x, y, 0.3, 1.0),
    "diamond": lambda x, y: (np.abs(x) + np.abs(y) - 1.0) * _R2,
    "diagonal_cross": lambda x, y: _plus((x + y) * _R2, (x - y) * _R2),
    "frame": lambda x, y: np.abs(np.maximum(np.abs(x), np.abs(y)) - 0.62) - 0.18,
}

#: The shape classes, in label order: ``shapes(classes=k)`` uses the first ``k``.
SHAPE_CLASSES = tuple(_SDF)

#: Default corruption for ``quality="high"`` and ``"low"``: Gaussian pixel noise std, blur sigma.
QUALITY = {"high": (0.0, 0.0), "low": (0.1, 1.0)}

_CHUNK = 2048  # images rendered at a time (bounds memory; results do not depend on it)


def shape_class_names(classes) -> tuple[str, ...]:
    """The class names ``shapes(classes=...)`` uses, in label order (validates ``classes``)."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        k = check_int(classes, "classes", 2, len(SHAPE_CLASSES))
        return SHAPE_CLASSES[:k]
    names = (classes,) if isinstance(classes, str) else tuple(classes)
    unknown = [c for c in names if c not in _SDF]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise GlassnetError(
            f"classes must be an int in [2, {len(SHAPE_CLASSES)}] or at least two distinct names "
            f"from {', '.join(SHAPE_CLASSES)}; got {classes!r}"
        )
    return names


def _gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of square ``(B, S, S, C)`` images over both S axes, edges replicated."""
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(img.dtype)
    size = img.shape[1]
    padded = np.pad(img, [(0, 0), (radius, radius), (0, 0), (0, 0)], mode="edge")
    rows = taps[0] * padded[:, :size]
    for k in range(1, len(taps)):
        rows += taps[k] * padded[:, k : k + size]
    padded = np.pad(rows, [(0, 0), (0, 0), (radius, radius), (0, 0)], mode="edge")
    out = taps[0] * padded[:, :, :size]
    for k in range(1, len(taps)):
        out += taps[k] * padded[:, :, k : k + size]
    return out


def _render(labels, params, names, size, noise, blur, rng) -> np.ndarray:
    cx, cy, radius, angle, fg, bg, bg2, grad_dir = params
    centres = np.arange(size, dtype=np.float32) + 0.5
    u, v = centres[None, None, :], centres[None, :, None]  # column (x) and row (y) coordinates
    dx = (u - cx[:, None, None]) / radius[:, None, None]
    dy = (cy[:, None, None] - v) / radius[:, None, None]  # y up
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    x, y = cos * dx + sin * dy, cos * dy - sin * dx
    sdf = np.empty_like(x)
    for c in np.unique(labels):
        sel = labels == c
        sdf[sel] = _SDF[names[c]](x[sel], y[sel])
    # Anti-aliased coverage: signed distance in pixels, a one-pixel ramp across the edge.
    cover = np.clip(0.5 - sdf * radius[:, None, None], 0, 1)[..., None]
    t = (np.cos(grad_dir)[:, None, None] * (u - size / 2) + np.sin(grad_dir)[:, None, None]
         * (v - size / 2)) / size + 0.5
    back = bg[:, None, None, :] + (bg2 - bg)[:, None, None, :] * t[..., None]
    img = back + (fg[:, None, None, :] - back) * cover
    if blur > 0:
        img = _gaussian_blur(img, blur)
    if noise > 0:
        img += np.float32(noise) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(img, 0, 1, out=img)


def shapes(n_per_class: int = 100, classes=10, size: int = 32, quality: str = "high",
           noise: float | None = None, blur: float | None = None, rotation: float = 15.0,
           seed=0, shuffle: bool = True):
    """A procedural RGB image set of coloured shapes on graded backgrounds.

    Each image shows one shape of :data:`SHAPE_CLASSES` (circle, square, triangle, cross, ring,
    horizontal_bar, vertical_bar, diamond, diagonal_cross, frame) with random colour, centre,
    radius (25-40 % of the image side) and rotation (+-``rotation`` degrees), on a background
    of a random colour with a gentle linear gradient. The shape colour differs from the
    background by 0.35-0.65 in every channel, so the shape is always visible before corruption.
    Edges are anti-aliased. Drawing is vectorized over images with signed-distance masks.

    Parameters
    ----------
    n_per_class : int
        Images per class; the set is exactly balanced.
    classes : int or sequence of str
        The first ``k`` of :data:`SHAPE_CLASSES` (2 to 10), or class names; label ``j`` is the
        ``j``-th class.
    size : int
        Image side in pixels (8 to 256).
    quality : {"high", "low"}
        Default corruption (:data:`QUALITY`): "high" is clean; "low" adds Gaussian pixel noise
        (std 0.1) after a Gaussian blur (sigma 1 pixel).
    noise, blur : float, optional
        Override the noise std (0 to 1) and blur sigma in pixels (0 to 8) of ``quality``.
    rotation : float
        Maximum rotation in degrees (0 to 45); keep it small so square and diamond stay apart.
    seed : int or numpy.random.Generator
        The same seed gives the same images, bit for bit.
    shuffle : bool
        Shuffle the classes; ``False`` returns the images grouped by class.

    Returns
    -------
    x : ndarray of float32, shape (n_per_class * k, size, size, 3), values in [0, 1]
    y : ndarray of int64, shape (n_per_class * k,)
    """
    names = shape_class_names(classes)
    n_per_class = check_int(n_per_class, "n_per_class", 1)
    size = check_int(size, "size", 8, 256)
    if quality not in QUALITY:
        raise GlassnetError(f"quality must be one of {', '.join(map(repr, QUALITY))}, got {quality!r}")
    noise = check_float(QUALITY[quality][0] if noise is None else noise, "noise", 0.0, 1.0)
    blur = check_float(QUALITY[quality][1] if blur is None else blur, "blur", 0.0, 8.0)
    rotation = check_float(rotation, "rotation", 0.0, 45.0)
    rng = as_rng(seed)

    labels = np.repeat(np.arange(len(names), dtype=np.int64), n_per_class)
    if shuffle:
        labels = rng.permutation(labels)
    n = len(labels)
    f32 = np.float32
    radius = (rng.uniform(0.25, 0.4, n) * size).astype(f32)
    cx = rng.uniform(radius, size - radius).astype(f32)
    cy = rng.uniform(radius, size - radius).astype(f32)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n)).astype(f32)
    bg = rng.uniform(0, 1, (n, 3)).astype(f32)
    fg = np.mod(bg + rng.uniform(0.35, 0.65, (n, 3)), 1).astype(f32)
    bg2 = np.clip(bg + rng.uniform(-0.15, 0.15, (n, 3)), 0, 1).astype(f32)
    grad_dir = rng.uniform(0, 2 * np.pi, n).astype(f32)
    params = (cx, cy, radius, angle, fg, bg, bg2, grad_dir)

    x = np.empty((n, size, size, 3), dtype=f32)
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        x[part] = _render(labels[part], [p[part] for p in params], names, size, noise, blur, rng)
    return x, labels
