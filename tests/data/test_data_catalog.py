"""The dataset registry: every built-in name loads into a consistent Dataset."""

import numpy as np
import pytest

from glassnet.data import Dataset, datasets, load
from glassnet.errors import GlassnetError

SMALL = {"shapes": {"n_per_class": 2}, "circle": {"n": 40}, "plane": {"n": 40}}
EXPECTED = {"circle", "xor", "gauss", "spiral", "plane", "multi_gaussian", "blobs", "digits",
            "shapes", "identity8", "iris", "wine", "breast_cancer"}


def test_the_promised_names_are_registered():
    assert EXPECTED <= set(datasets.names())
    assert "autoencoder8" in datasets and "multi-gaussian" in datasets


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_is_consistent(name):
    ds = load(name, **SMALL.get(name, {}))
    assert isinstance(ds, Dataset) and ds.name == name
    assert len(ds.x) == len(ds.y) == len(ds) > 0
    assert ds.task in ("classification", "regression")
    if ds.feature_names is not None:
        assert ds.x.ndim == 2 and len(ds.feature_names) == ds.x.shape[1]
    if ds.task == "classification":
        assert ds.y.dtype.kind == "i" and ds.y.ndim == 1
        assert ds.num_classes >= 2 and set(np.unique(ds.y)) == set(range(ds.num_classes))
        assert ds.class_names is None or len(ds.class_names) == ds.num_classes
    else:
        assert ds.num_classes is None and ds.y.dtype.kind == "f"
    text = repr(ds)
    assert str(ds.x.shape) in text and len(text) < 200


def test_generated_sets_follow_their_options_and_seed():
    a = load("spiral", n=90, classes=3, noise=0.2, seed=1)
    b = load("spiral", n=90, classes=3, noise=0.2, seed=1)
    assert a.num_classes == 3 and a.x.shape == (90, 2)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, load("spiral", n=90, classes=3, noise=0.2, seed=2).x)


def test_autoencoder8_alias_and_k_minus_1():
    ds = load("autoencoder8", encoding="k-1")
    assert ds.name == "identity8" and ds.x.shape == (8, 8) and ds.y.shape == (8, 7)
    assert not ds.y[0].any() and ds.y[7].tolist() == [0, 0, 0, 0, 0, 0, 1]


def test_tabular_sets_carry_names():
    iris = load("iris")
    assert iris.x.shape == (150, 4) and iris.class_names == ("setosa", "versicolor", "virginica")
    assert load("shapes", n_per_class=1, classes=["ring", "frame"]).class_names == ("ring", "frame")


def test_errors_list_the_valid_choices():
    with pytest.raises(GlassnetError, match="unknown dataset 'mnist'; valid names: .*circle"):
        load("mnist")
    message = "data set 'circle' has no option 'classes'; options: n, noise, seed"
    with pytest.raises(GlassnetError, match=message):
        load("circle", classes=3)
    with pytest.raises(GlassnetError, match="task must be one of"):
        Dataset("x", np.zeros(2), np.zeros(2), "clustering")
    with pytest.raises(GlassnetError, match="x has 2 samples but y has 3"):
        Dataset("x", np.zeros(2), np.zeros(3), "regression")
