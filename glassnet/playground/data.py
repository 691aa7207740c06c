"""The points the playground trains on: generated 2-D sets, your own points, CSV uploads.

Points are ``(n, 2)`` coordinates plus labels: class indices ``0..K-1`` for classification (binary
class 1 is TensorFlow Playground's +1, drawn blue), float targets for regression. The generated
sets are the data set registry's 2-D generators (:mod:`glassnet.data.catalog`, see
:mod:`glassnet.playground.options`); only CSV parsing and the split live here.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from ..errors import GlassnetError
from . import options
from .settings import FEATURE_KEYS, MAX_CUSTOM_POINTS

#: the square every view draws, as in TF Playground
DOMAIN = 6.0
#: points per generated set, as in TF Playground (classification 500, regression 1200)
N_CLASSIFICATION, N_REGRESSION, N_MULTICLASS = 500, 1200, 600
MAX_CSV_BYTES = 200_000
#: the largest coordinate or regression target a file may hold (beyond it, float32 work and the
#: scaling into the square lose every other point)
MAX_VALUE = 1e6
#: a file whose points, scaled into the square, would leave half of them within this share of
#: its half-width of the centre is refused: a far point would squeeze the rest into a dot
SQUEEZE_SHARE = 0.01


@dataclass
class Points:
    """Coordinates ``x`` (n, 2) and labels ``y`` (n,): int classes or float targets.

    ``drawn`` marks the points drawn on the page (None: none): they always train (a point you
    draw must not vanish into the test set), and adding one leaves the split of the others as
    it was."""

    x: np.ndarray
    y: np.ndarray
    drawn: np.ndarray | None = None

    def __len__(self):
        return len(self.x)

    def drawn_mask(self) -> np.ndarray:
        return np.zeros(len(self), bool) if self.drawn is None else self.drawn


def generate(settings: dict) -> Points:
    """The generated data set that ``settings`` names (not ``custom``)."""
    name, options_ = generator(settings)
    ds = options.generate(name, **options_)
    return Points(ds.x, ds.y.astype(np.float64) if ds.task == "regression" else ds.y)


def generator(settings: dict) -> tuple[str, dict]:
    """The registry name and options of the generated data set that ``settings`` name: TF
    Playground's sizes (500 points to classify, 1200 for regression; 600 for K classes),
    noise as a fraction."""
    noise, seed = settings["noise"] / 100.0, settings["seed"]
    problem = settings["problem"]
    if problem == "regression":
        return settings["regDataset"], {"n": N_REGRESSION, "noise": noise, "seed": seed}
    if problem == "multiclass":
        return settings["dataset"], {"n": N_MULTICLASS, "noise": noise, "seed": seed, "classes": settings["classes"]}
    return settings["dataset"], {"n": N_CLASSIFICATION, "noise": noise, "seed": seed, "classes": 2}


def split(points: Points, perc_train: int, seed: int) -> tuple[Points, Points]:
    """Shuffle with ``seed`` and split: ``round(n * perc/100)`` training points, at least one
    (a single point trains), and at least one test point when there are two or more. Drawn
    points always train, after the split of the others (which they leave as it was)."""
    drawn = points.drawn_mask()
    rest = np.flatnonzero(~drawn)
    n = len(rest)
    order = rest[np.random.default_rng(seed).permutation(n)]
    n_train = int(round(n * perc_train / 100))
    n_train = max(n_train, 1) if n else 0
    if n >= 2:
        n_train = min(n_train, n - 1)
    tr = np.concatenate([order[:n_train], np.flatnonzero(drawn)]).astype(np.int64)
    te = order[n_train:]
    return Points(points.x[tr], points.y[tr]), Points(points.x[te], points.y[te])


def feature_names(settings: dict) -> list[str]:
    """The active input features, in the Playground's order (``x1, x2, x1^2, ...``)."""
    return [name for key, name in FEATURE_KEYS.items() if settings[key]]


def check_label(problem: str, label, classes: int, drawn: bool = True):
    """A point's label, validated for the problem (class index or regression target). A drawn
    regression point's target is in [-1, 1] (the colour scale); a traced one may be any number."""
    if isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
        raise GlassnetError(f"label must be a number, got {label!r}")
    if problem == "regression":
        if drawn and not -1 <= label <= 1:
            raise GlassnetError(f"a regression label must be in [-1, 1], got {label!r}")
        return float(label)
    k = 2 if problem == "classification" else classes
    if int(label) != label or not 0 <= label < k:
        raise GlassnetError(f"label must be a class index in [0, {k}) for {problem}, got {label!r}")
    return int(label)


def parse_csv(text: str, problem: str, classes: int) -> tuple[Points, str]:
    """Points from CSV text ``x1,x2,label`` (a header row is optional).

    Classification labels may be 0/1 or -1/+1; multi-class labels 0..K-1 (K <= 8, the number of
    classes follows the file); regression labels finite numbers within ``MAX_VALUE``.
    Coordinates beyond the drawn square [-6, 6]^2 are scaled into it (the note says by how
    much); a coordinate beyond ``MAX_VALUE``, or one point so far from the rest that scaling
    would squeeze the others into a dot, is refused with its line. A file that is not text
    (NUL bytes, or bytes the page could not read as UTF-8) is refused.

    Returns
    -------
    (Points, note) : the points and a one-line note for the page ("" when nothing was changed).
    """
    if len(text.encode("utf-8", "replace")) > MAX_CSV_BYTES:
        raise GlassnetError(f"CSV is larger than {MAX_CSV_BYTES // 1000} kB; upload at most "
                            f"{MAX_CUSTOM_POINTS} points")
    if "\x00" in text or "\ufffd" in text:
        line = 1 + text[:min(i for i in (text.find("\x00"), text.find("\ufffd")) if i >= 0)].count("\n")
        raise GlassnetError(f"the file is not a text CSV: line {line} holds binary bytes (NUL or not UTF-8); "
                            "expected lines 'x1,x2,label'")
    try:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text))) if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise GlassnetError(f"the file is not a readable CSV: {exc}") from None
    if rows and not _numeric(rows[0][1][0]):
        rows = rows[1:]  # a header
    if not rows:
        raise GlassnetError("CSV has no data rows; expected lines 'x1,x2,label'")
    if len(rows) > MAX_CUSTOM_POINTS:
        raise GlassnetError(f"CSV has {len(rows)} rows; at most {MAX_CUSTOM_POINTS} points are allowed")
    values = np.empty((len(rows), 3))
    for i, (line, row) in enumerate(rows):
        if len(row) < 3 or not all(_numeric(c) for c in row[:3]):
            raise GlassnetError(f"CSV line {line}: expected three numbers 'x1,x2,label', got {','.join(row)[:80]!r}")
        values[i] = [float(c) for c in row[:3]]
        if not np.isfinite(values[i]).all() or np.abs(values[i]).max() > MAX_VALUE:
            raise GlassnetError(f"CSV line {line}: {','.join(row)[:80]!r} holds a value that is not a finite number "
                                f"within ±{MAX_VALUE:g}")
    x, labels = values[:, :2], values[:, 2]
    notes = []
    reach = np.abs(x).max(axis=1)
    if reach.max() > DOMAIN:
        scale = DOMAIN / reach.max()
        if len(x) >= 3 and np.median(reach) * scale < SQUEEZE_SHARE * DOMAIN:
            far = int(np.argmax(reach))
            raise GlassnetError(
                f"CSV line {rows[far][0]}: the point ({x[far, 0]:g}, {x[far, 1]:g}) is far from the others; scaling "
                f"it into [-6, 6] would squeeze half of the points within {np.median(reach) * scale:.2g} of the "
                "centre. Remove it or rescale the file")
        x = x * scale
        notes.append(f"coordinates scaled by {scale:.3g} to fit [-6, 6]")
    if problem == "regression":
        return Points(x, labels), "; ".join(notes)
    if not np.all(labels == np.round(labels)):
        raise GlassnetError(f"{problem} labels must be integers (0/1, -1/+1 or 0..K-1); "
                            "choose the regression problem for real-valued labels")
    labels = labels.astype(np.int64)
    if problem == "classification":
        if set(np.unique(labels)) <= {-1, 1}:
            labels = (labels > 0).astype(np.int64)
        if not set(np.unique(labels)) <= {0, 1}:
            raise GlassnetError(f"classification labels must be 0/1 or -1/+1, got {sorted(set(labels.tolist()))[:10]}; "
                                "choose the multi-class problem for more classes")
    else:
        if labels.min() < 0 or labels.max() > 7:
            raise GlassnetError(f"multi-class labels must be 0..7, got values from {labels.min()} to {labels.max()}")
    return Points(x, labels), "; ".join(notes)


def check_points(arr: np.ndarray, problem: str, classes: int, what: str = "'points'") -> Points:
    """Rows ``[x1, x2, label]`` (an imported state's own points) as :class:`Points`, checked:
    coordinates within the square [-6, 6]^2 (where the page keeps its points) and labels that
    fit the problem (0/1, 0..K-1, or a finite target within ``MAX_VALUE``); one line says
    which row is wrong."""
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.isfinite(arr).all():
        raise GlassnetError(f"{what} must be rows of three finite numbers [x1, x2, label]")
    outside = np.flatnonzero(np.abs(arr[:, :2]).max(axis=1) > DOMAIN)
    if len(outside):
        i = int(outside[0])
        raise GlassnetError(f"{what} row {i + 1}: ({arr[i, 0]:g}, {arr[i, 1]:g}) is outside the square [-6, 6]^2 "
                            f"({len(outside)} row{'s' if len(outside) > 1 else ''} outside)")
    labels = arr[:, 2]
    if problem == "regression":
        bad = np.flatnonzero(np.abs(labels) > MAX_VALUE)
        if len(bad):
            raise GlassnetError(f"{what} row {int(bad[0]) + 1}: target {labels[bad[0]]:g} is beyond ±{MAX_VALUE:g}")
        return Points(arr[:, :2], labels.astype(np.float64))
    k = 2 if problem == "classification" else classes
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= k))
    if len(bad):
        raise GlassnetError(f"{what} row {int(bad[0]) + 1}: label {labels[bad[0]]:g} is not a class of the "
                            f"{problem} problem (0..{k - 1})")
    return Points(arr[:, :2], labels.astype(np.int64))


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def previews(n: int = 150) -> dict:
    """Small versions of every generated set for the page's data-set buttons:
    ``{"problem:name": [x1, x2, label, ...]}`` flattened and rounded."""
    out = {}
    base = {"noise": 0, "seed": 0, "classes": 3}
    cases = [("classification", o.name) for o in options.datasets("classification")]
    cases += [("multiclass", name) for name in options.multiclass_datasets()]
    cases += [("regression", o.name) for o in options.datasets("regression")]
    for problem, name in cases:
        if name == options.CUSTOM:
            continue
        p = generate({**base, "problem": problem, "dataset": name, "regDataset": name})
        idx = np.random.default_rng(1).permutation(len(p))[:n]
        out[f"{problem}:{name}"] = flat(Points(p.x[idx], p.y[idx]))
    return out


def flat(points: Points) -> list:
    """``[x1, x2, label, x1, x2, label, ...]`` rounded to 3 decimals (compact JSON)."""
    arr = np.column_stack([points.x, points.y.astype(np.float64)]).round(3)
    return arr.ravel().tolist()
