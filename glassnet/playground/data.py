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


@dataclass
class Points:
    """Coordinates ``x`` (n, 2) and labels ``y`` (n,): int classes or float targets."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.x)


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
    """Shuffle with ``seed`` and split: ``round(n * perc/100)`` training points (at least one
    of each part when there are two points or more)."""
    n = len(points)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(n * perc_train / 100))
    if n >= 2:
        n_train = min(max(n_train, 1), n - 1)
    tr, te = order[:n_train], order[n_train:]
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
    classes follows the file); regression labels any finite numbers. Coordinates beyond the
    drawn square [-6, 6]^2 are scaled into it (the note says by how much).

    Returns
    -------
    (Points, note) : the points and a one-line note for the page ("" when nothing was changed).
    """
    if len(text.encode("utf-8", "replace")) > MAX_CSV_BYTES:
        raise GlassnetError(f"CSV is larger than {MAX_CSV_BYTES // 1000} kB; upload at most "
                            f"{MAX_CUSTOM_POINTS} points")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if rows and not _numeric(rows[0][0]):
        rows = rows[1:]  # a header
    if not rows:
        raise GlassnetError("CSV has no data rows; expected lines 'x1,x2,label'")
    if len(rows) > MAX_CUSTOM_POINTS:
        raise GlassnetError(f"CSV has {len(rows)} rows; at most {MAX_CUSTOM_POINTS} points are allowed")
    values = np.empty((len(rows), 3))
    for i, row in enumerate(rows):
        if len(row) < 3 or not all(_numeric(c) for c in row[:3]):
            raise GlassnetError(f"CSV line {i + 1}: expected three numbers 'x1,x2,label', got {','.join(row)!r}")
        values[i] = [float(c) for c in row[:3]]
    if not np.isfinite(values).all():
        raise GlassnetError("CSV contains NaN or infinite values")
    x, labels = values[:, :2], values[:, 2]
    notes = []
    reach = np.abs(x).max()
    if reach > DOMAIN:
        x = x * (DOMAIN / reach)
        notes.append(f"coordinates scaled by {DOMAIN / reach:.3g} to fit [-6, 6]")
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
