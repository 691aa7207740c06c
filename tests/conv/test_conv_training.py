"""CNNs learn: on the procedural shapes set a small CNN beats a dense net of about the same
number of parameters by a wide margin, and on scikit-learn's digits it passes 95% test accuracy.

Run with ``-s`` to see the accuracies. Everything is seeded, so the numbers repeat exactly on one
machine; the thresholds leave a wide margin below them.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import digits, shapes, train_test_split


@pytest.fixture(autouse=True)
def one_blas_thread():
    """These tests measure learning, not speed: with one BLAS thread the small GEMMs run as fast,
    and a machine shared with other jobs does not stall on spinning BLAS threads."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    with limits:
        yield


def standardized_split(x, y, seed=0):
    (xtr, ytr), (xte, yte) = train_test_split(x, y, train_fraction=0.75, seed=seed, stratify=True)
    mean, std = xtr.mean(axis=(0, 1, 2)), xtr.std(axis=(0, 1, 2))  # per channel, from training data
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def small_cnn(input_shape, classes=10):
    return gn.Sequential([
        gn.Conv2D(16, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(32, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(32, 3, padding="same", activation="relu"), gn.GlobalAveragePooling2D(),
        gn.Dense(classes),
    ], input_shape=input_shape, seed=0, init="he_uniform")


def dense_like(model, input_shape, classes=10):
    """Flatten -> Dense(h, relu) -> Dense(classes) with h chosen for ~ the same parameter count."""
    n_in = int(np.prod(input_shape))
    h = max(1, round((model.param_count() - classes) / (n_in + 1 + classes)))
    return gn.Sequential([gn.Flatten(), gn.Dense(h, activation="relu"), gn.Dense(classes)],
                         input_shape=input_shape, seed=0, init="he_uniform")


def train_and_score(model, xtr, ytr, xte, yte, epochs):
    model.fit(xtr, ytr, loss="softmax_cross_entropy", optimizer=gn.Adam(lr=3e-3), epochs=epochs,
              batch_size=32)
    return model.evaluate(xte, yte, "softmax_cross_entropy")["accuracy"]


def compare_on_shapes(size, n_per_class, epochs):
    x, y = shapes(n_per_class=n_per_class, classes=10, size=size, seed=0)
    xtr, ytr, xte, yte = standardized_split(x, y)
    cnn = small_cnn(xtr.shape[1:])
    dense = dense_like(cnn, xtr.shape[1:])
    assert abs(dense.param_count() - cnn.param_count()) < 0.15 * cnn.param_count()
    acc_cnn = train_and_score(cnn, xtr, ytr, xte, yte, epochs)
    acc_dense = train_and_score(dense, xtr, ytr, xte, yte, epochs)
    print(f"\nshapes {size}x{size}, {len(ytr)} train / {len(yte)} test images, {epochs} epochs: "
          f"CNN ({cnn.param_count():,} params) test accuracy {acc_cnn:.3f}, "
          f"dense ({dense.param_count():,} params) {acc_dense:.3f}")
    return acc_cnn, acc_dense


def test_cnn_beats_dense_net_of_same_size_on_shapes():
    acc_cnn, acc_dense = compare_on_shapes(size=16, n_per_class=100, epochs=20)
    assert acc_cnn > 0.75
    assert acc_cnn > acc_dense + 0.25


@pytest.mark.slow
def test_cnn_beats_dense_net_on_32x32_shapes():
    """The seed's image size (32x32x3)."""
    acc_cnn, acc_dense = compare_on_shapes(size=32, n_per_class=100, epochs=20)
    assert acc_cnn > 0.75
    assert acc_cnn > acc_dense + 0.3


def test_cnn_on_digits_above_95_percent():
    x, y = digits()
    xtr, ytr, xte, yte = standardized_split(x, y)
    model = gn.Sequential([
        gn.Conv2D(16, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(32, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Flatten(), gn.Dense(10),
    ], input_shape=(8, 8, 1), seed=0, init="he_uniform")
    acc = train_and_score(model, xtr, ytr, xte, yte, epochs=15)
    print(f"\ndigits 8x8, {len(ytr)} train / {len(yte)} test: CNN ({model.param_count():,} params) "
          f"test accuracy {acc:.3f}")
    assert acc > 0.95
