"""The built-in data sets by name: ``datasets`` (a Registry) and ``load(name, **options)``.

Configs, the CLI and the playground resolve data set names here and nowhere else::

    ds = load("spiral", n=400, noise=0.1, seed=3)
    ds.x.shape, ds.y.shape, ds.task, ds.num_classes      # (400, 2) (400,) 'classification' 2

Classification sets have integer labels ``y`` in ``[0, num_classes)``; regression sets have
float targets. Every entry takes its own keyword options (see each builder's docstring);
generated sets take ``seed`` and are the same for the same options and seed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..errors import GlassnetError
from ..registry import Registry
from . import images, toy2d
from ._util import optional_import
from .encoding import identity_patterns
from .preprocessing import train_test_split

TASKS = ("classification", "regression")
XY = ("x1", "x2")


@dataclass(frozen=True, repr=False, eq=False)  # arrays: compare the fields yourself
class Dataset:
    """A data set with what is known about it.

    Attributes
    ----------
    name : str
        The registry name it was loaded by.
    x : ndarray, shape (n, ...)
        Inputs: ``(n, features)`` for tables, ``(n, H, W, C)`` for images.
    y : ndarray, shape (n,) or (n, outputs)
        Integer class labels (classification) or float targets (regression).
    task : {"classification", "regression"}
    num_classes : int or None
        For classification.
    feature_names, class_names : tuple of str or None
        Where known.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    task: str
    num_classes: int | None = None
    feature_names: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise GlassnetError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if len(self.x) != len(self.y):
            raise GlassnetError(
                f"data set {self.name!r}: x has {len(self.x)} samples but y has {len(self.y)}"
            )

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        parts = [
            repr(self.name),
            f"x={self.x.shape} {self.x.dtype}",
            f"y={self.y.shape} {self.y.dtype}",
            f"task={self.task!r}",
        ]
        if self.num_classes is not None:
            parts.append(f"num_classes={self.num_classes}")
        return f"Dataset({', '.join(parts)})"


datasets: Registry = Registry("dataset")


def load(name: str, **options) -> Dataset:
    """The data set registered as ``name``, built with ``options``.

    Unknown names and unknown options raise a :class:`GlassnetError` listing the valid ones.
    """
    builder = datasets.get(name)
    allowed = list(inspect.signature(builder).parameters)
    for key in options:
        if key not in allowed:
            raise GlassnetError(
                f"data set {datasets.canonical(name)!r} has no option {key!r}; "
                f"options: {', '.join(allowed) or 'none'}"
            )
    return builder(**options)


def _binary(name: str, x, y) -> Dataset:
    return Dataset(name, x, y, "classification", 2, XY, ("0", "1"))


@datasets.register("circle")
def _circle(n: int = 500, noise: float = 0.0, seed=0) -> Dataset:
    """TF Playground circle: :func:`glassnet.data.toy2d.circle`."""
    return _binary("circle", *toy2d.circle(n, noise, seed))


@datasets.register("xor")
def _xor(n: int = 500, noise: float = 0.0, seed=0, features=None) -> Dataset:
    """TF Playground exclusive or: :func:`glassnet.data.toy2d.xor`. ``features`` (e.g.
    ``["x1x2"]``) replaces the columns x1, x2 by those Playground features
    (:func:`glassnet.data.toy2d.features`), as the Playground's input toggles do."""
    x, y = toy2d.xor(n, noise, seed)
    if features is None:
        return _binary("xor", x, y)
    names = [features] if isinstance(features, str) else list(features)
    return Dataset("xor", toy2d.features(x, names), y, "classification", 2, tuple(names), ("0", "1"))


@datasets.register("gauss", "gaussian")
def _gauss(n: int = 500, noise: float = 0.0, seed=0) -> Dataset:
    """TF Playground two Gaussians: :func:`glassnet.data.toy2d.gauss`."""
    return _binary("gauss", *toy2d.gauss(n, noise, seed))


@datasets.register("spiral")
def _spiral(n: int = 500, noise: float = 0.0, seed=0, classes: int = 2) -> Dataset:
    """TF Playground spiral, or ``classes`` arms: :func:`glassnet.data.toy2d.spiral`."""
    x, y = toy2d.spiral(n, noise, seed, classes=classes)
    return Dataset("spiral", x, y, "classification", classes, XY, tuple(map(str, range(classes))))


@datasets.register("blobs")
def _blobs(n: int = 600, classes: int = 3, noise: float = 0.0, seed=0) -> Dataset:
    """Gaussian clouds on a circle: :func:`glassnet.data.toy2d.blobs`."""
    x, y = toy2d.blobs(n, classes, noise, seed)
    return Dataset("blobs", x, y, "classification", classes, XY, tuple(map(str, range(classes))))


@datasets.register("plane")
def _plane(n: int = 1200, noise: float = 0.0, seed=0) -> Dataset:
    """TF Playground regression plane: :func:`glassnet.data.toy2d.plane`."""
    return Dataset("plane", *toy2d.plane(n, noise, seed), "regression", None, XY)


@datasets.register("multi_gaussian", "multigaussian")
def _multi_gaussian(n: int = 1200, noise: float = 0.0, seed=0) -> Dataset:
    """TF Playground six-bump regression: :func:`glassnet.data.toy2d.multi_gaussian`."""
    return Dataset("multi_gaussian", *toy2d.multi_gaussian(n, noise, seed), "regression", None, XY)


@datasets.register("identity8", "autoencoder8")
def _identity8(encoding: str = "k", n: int = 8, dtype=np.float32, input_encoding: str = "k") -> Dataset:
    """The 8-3-8 autoencoder of seed 003: :func:`glassnet.data.encoding.identity_patterns`.

    ``y`` holds target vectors (``"k"`` or ``"k-1"`` encoded), trained as a regression with
    half the sum of squared errors, as in the seed; decode outputs with ``from_one_hot``.
    ``input_encoding = "k-1"`` codes the inputs the same way (the seed's 7-3-7 k-1 network).
    """
    x, y = identity_patterns(n, encoding, dtype, input_encoding)
    return Dataset("identity8", x, y, "regression", None, tuple(f"x{i + 1}" for i in range(x.shape[1])))


PARTS = ("all", "train", "test")


def _part(name: str, x, y, part: str, train_fraction: float, split_seed):
    """The whole image set, or its training or test part: the stratified split
    ``train_test_split(x, y, train_fraction, seed=split_seed, stratify=True)`` (class proportions
    kept in both parts), so a config can name exactly the images a model trained on."""
    if part not in PARTS:
        raise GlassnetError(f"data set {name!r}: part must be one of {', '.join(PARTS)}, got {part!r}")
    if part == "all":
        return x, y
    train, test = train_test_split(x, y, train_fraction, seed=split_seed, stratify=True)
    return train if part == "train" else test


@datasets.register("digits")
def _digits(dtype=np.float32, flat: bool = False, part: str = "all", train_fraction: float = 0.7,
            split_seed=0) -> Dataset:
    """scikit-learn's 8x8 digits as images (1797, 8, 8, 1): :func:`glassnet.data.images.digits`;
    ``flat`` gives rows of 64 pixels, ``part`` the stratified "train" or "test" part (see
    :func:`_part`)."""
    x, y = images.digits(dtype)
    x, y = _part("digits", x, y, part, train_fraction, split_seed)
    if flat:
        x = x.reshape(len(x), -1)
    return Dataset("digits", x, y, "classification", 10, None, tuple(map(str, range(10))))


@datasets.register("shapes")
def _shapes(n_per_class: int = 100, classes=10, size: int = 32, quality: str = "high",
            noise: float | None = None, blur: float | None = None, seed=0, part: str = "all",
            train_fraction: float = 0.7, split_seed=0) -> Dataset:
    """Procedural 32x32 RGB shapes: :func:`glassnet.data.images.shapes`; ``part`` the stratified
    "train" or "test" part (see :func:`_part`)."""
    names = images.shape_class_names(classes)
    x, y = images.shapes(n_per_class, classes, size, quality, noise, blur, seed=seed)
    x, y = _part("shapes", x, y, part, train_fraction, split_seed)
    return Dataset("shapes", x, y, "classification", len(names), None, names)


def _sklearn_table(name: str, loader: str) -> Dataset:
    bunch = getattr(optional_import("sklearn.datasets", f"data set {name!r}"), loader)()
    return Dataset(
        name,
        np.asarray(bunch.data, dtype=np.float64),
        np.asarray(bunch.target, dtype=np.int64),
        "classification",
        len(bunch.target_names),
        tuple(map(str, bunch.feature_names)),
        tuple(map(str, bunch.target_names)),
    )


@datasets.register("iris")
def _iris() -> Dataset:
    """Fisher's iris (150 x 4, 3 classes), bundled with scikit-learn."""
    return _sklearn_table("iris", "load_iris")


@datasets.register("wine")
def _wine() -> Dataset:
    """UCI wine recognition (178 x 13, 3 classes), bundled with scikit-learn."""
    return _sklearn_table("wine", "load_wine")


@datasets.register("breast_cancer")
def _breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer (569 x 30, 2 classes), bundled with scikit-learn."""
    return _sklearn_table("breast_cancer", "load_breast_cancer")
