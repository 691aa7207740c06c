"""Data for glassnet: generated 2-D sets, encodings, small image sets, file loaders, scaling.

NumPy is the only import-time dependency; scikit-learn and Pillow (``pip install glassnet[data]``)
are imported by the few functions that need them.
"""

from .catalog import Dataset, datasets, load
from .encoding import ENCODINGS, decode, from_one_hot, identity_patterns, one_hot
from .images import SHAPE_CLASSES, digits, shape_class_names, shapes
from .loaders import (
    load_cifar10,
    load_cifar100,
    load_cifar_batch,
    load_fashion_mnist,
    load_image_folder,
    load_mnist,
    load_npz,
    read_idx,
)
from .preprocessing import Scaler, min_max_scale, standardize, train_test_split, train_val_test_split
from .tables import load_csv
from .safe_pickle import RestrictedUnpickler, restricted_load
from .toy2d import (
    FEATURE_NAMES,
    blobs,
    circle,
    features,
    gauss,
    multi_gaussian,
    plane,
    spiral,
    split,
    xor,
)

__all__ = [
    "Dataset", "datasets", "load",
    "ENCODINGS", "one_hot", "from_one_hot", "decode", "identity_patterns",
    "SHAPE_CLASSES", "digits", "shapes", "shape_class_names",
    "read_idx", "load_mnist", "load_fashion_mnist", "load_cifar_batch", "load_cifar10",
    "load_cifar100", "load_image_folder", "load_npz", "RestrictedUnpickler", "restricted_load",
    "Scaler", "standardize", "min_max_scale", "train_test_split", "train_val_test_split",
    "FEATURE_NAMES", "circle", "xor", "gauss", "spiral", "plane", "multi_gaussian", "blobs",
    "features", "split",
]
