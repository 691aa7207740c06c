"""Scalers fitted on training data only, and seeded splits."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.data import digits, load_image_folder, min_max_scale, standardize, train_val_test_split
from glassnet.errors import GlassnetError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    train = rng.normal([1.0, -3.0, 10.0], [2.0, 0.5, 4.0], (200, 3))
    test = rng.normal(0.0, 1.0, (30, 3))
    return train, test


def test_standardize_uses_training_statistics(data):
    train, test = data
    ztrain, ztest, scaler = standardize(train, test)
    np.testing.assert_allclose(ztrain.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ztrain.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(ztest, (test - train.mean(axis=0)) / train.std(axis=0))
    np.testing.assert_allclose(scaler(test), ztest)
    np.testing.assert_allclose(scaler.inverse_transform(ztest), test)


def test_standardize_constant_feature_and_channels():
    x = np.column_stack([np.full(5, 3.0), np.arange(5.0)])
    z, _ = standardize(x)
    assert np.all(np.isfinite(z)) and np.all(z[:, 0] == 0)
    images = np.random.default_rng(1).uniform(0, 1, (8, 4, 4, 3)) * [1, 5, 10]
    zi, scaler = standardize(images, axis=(0, 1, 2))
    assert scaler.shift.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(zi.std(axis=(0, 1, 2)), 1)


def test_min_max_scale(data):
    train, test = data
    s, t, scaler = min_max_scale(train, test)
    np.testing.assert_allclose(s.min(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.max(axis=0), 1)
    lo, hi = train.min(axis=0), train.max(axis=0)
    np.testing.assert_allclose(t, (test - lo) / (hi - lo))
    s2, scaler2 = min_max_scale(train, feature_range=(-1, 1))
    np.testing.assert_allclose(s2.min(axis=0), -1)
    np.testing.assert_allclose(s2.max(axis=0), 1)
    np.testing.assert_allclose(scaler2.inverse_transform(s2), train)
    const, _ = min_max_scale(np.full((4, 1), 7.0), feature_range=(2, 3))
    assert np.all(const == 2)


def test_scaler_errors(data):
    train, _ = data
    *_, scaler = standardize(train)
    with pytest.raises(GlassnetError, match=r"shape \(4, 5\) does not match"):
        scaler(np.zeros((4, 5)))
    with pytest.raises(GlassnetError, match="feature_range"):
        min_max_scale(train, feature_range=(1, 0))
    with pytest.raises(GlassnetError, match="train must be a non-empty numeric array"):
        standardize(np.array(["a", "b"]))


def test_train_val_test_split_partitions_and_is_seeded():
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    (xa, ya), (xb, yb), (xc, yc) = train_val_test_split(x, y, (0.6, 0.2, 0.2), seed=3)
    assert (len(ya), len(yb), len(yc)) == (30, 10, 10)
    assert sorted(np.concatenate([ya, yb, yc]).tolist()) == list(range(50))
    np.testing.assert_array_equal(xa[:, 1], 2 * ya + 1)
    again = train_val_test_split(x, y, (0.6, 0.2, 0.2), seed=3)
    other = train_val_test_split(x, y, (0.6, 0.2, 0.2), seed=4)
    np.testing.assert_array_equal(again[0][1], ya)
    assert not np.array_equal(other[0][1], ya)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = np.arange(100)
    parts = train_val_test_split(x, y, (0.5, 0.3, 0.2), seed=0, stratify=True)
    for (_, part), fraction in zip(parts, (0.5, 0.3, 0.2)):
        counts = np.bincount(part, minlength=3)
        assert np.all(np.abs(counts - fraction * np.array([60, 30, 10])) <= 1)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    weights=st.tuples(*[st.integers(0, 10)] * 3).filter(lambda w: sum(w) > 0),
    stratify=st.booleans(),
)
def test_split_sizes_property(n, weights, stratify):
    fractions = np.array(weights) / sum(weights)
    y = np.arange(n) % 3
    parts = train_val_test_split(np.arange(n), y, fractions, seed=1, stratify=stratify)
    sizes = np.array([len(p[0]) for p in parts])
    assert sizes.sum() == n
    tolerance = 1 if not stratify else 3  # one per part overall; one per part and class
    assert np.all(np.abs(sizes - n * fractions) <= tolerance + 1e-9)
    assert sorted(np.concatenate([p[0] for p in parts]).tolist()) == list(range(n))


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.5), (0.6, 0.6, -0.2), (0.5, 0.2, 0.2), "abc", (0.5, None, 0.5)]
)
def test_bad_fractions(fractions):
    with pytest.raises(GlassnetError, match="fractions must be three non-negative numbers"):
        train_val_test_split(np.zeros(4), np.zeros(4), fractions)


def test_split_needs_samples_and_matching_lengths():
    with pytest.raises(GlassnetError, match="cannot split 0 samples"):
        train_val_test_split(np.zeros(0), np.zeros(0))
    with pytest.raises(GlassnetError, match=r"shapes \(4,\) and \(3,\)"):
        train_val_test_split(np.zeros(4), np.zeros(3))


def test_import_is_numpy_only():
    code = "import sys, glassnet.data; print(sorted(m for m in ('sklearn', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": ""}, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_optional_dependencies_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(GlassnetError, match=r"needs scikit-learn.*pip install glassnet\[data\]"):
        digits()
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    (tmp_path / "a").mkdir()
    with pytest.raises(GlassnetError, match=r"needs pillow.*pip install glassnet\[data\]"):
        load_image_folder(tmp_path)
