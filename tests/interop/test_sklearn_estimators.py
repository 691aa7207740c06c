"""glassnet.sklearn estimators: scikit-learn's own estimator checks, and use in its tools."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.sklearn import EXPECTED_FAILED_CHECKS, GlassnetClassifier, GlassnetRegressor  # noqa: E402

# small budgets keep the ~110 checks at a few seconds; the defaults pass them too (~25 s)
FAST = dict(hidden_layer_sizes=(16,), epochs=20, lr=0.01)


@parametrize_with_checks([GlassnetClassifier(**FAST), GlassnetRegressor(**FAST)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    assert EXPECTED_FAILED_CHECKS == {}
    # EXPECTED_FAILED_CHECKS is empty: every check passes. (check_array_api_input is skipped by
    # scikit-learn itself unless SCIPY_ARRAY_API=1; the estimators compute with NumPy only.)
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_classifier_learns_digits_and_reports_attributes(digits):
    X, y = digits
    clf = GlassnetClassifier(hidden_layer_sizes=(32,), epochs=15, lr=0.01, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))
    assert clf.n_iter_ == 15 and len(clf.loss_curve_) >= 2
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1)
    assert np.array_equal(clf.classes_[proba.argmax(1)], clf.predict(X[:5]))
    assert isinstance(clf.model_, gn.Sequential) and clf.model_.M == 1


def test_string_labels_and_binary(digits):
    X, y = digits
    mask = y < 2
    labels = np.where(y[mask] == 0, "zero", "one")
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=5, lr=0.01, random_state=0).fit(X[mask], labels)
    assert list(clf.classes_) == ["one", "zero"]
    assert clf.model_.output_shape == (2,)
    assert set(clf.predict(X[mask])) <= {"one", "zero"} and clf.score(X[mask], labels) > 0.95


def test_same_random_state_same_network_and_clone(digits):
    X, y = digits
    a = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=5).fit(X, y)
    b = clone(a).fit(X, y)
    for k in a.model_.params:
        assert np.array_equal(a.model_.params[k], b.model_.params[k])
    c = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=6).fit(X, y)
    assert not np.array_equal(a.model_.params["dense_0.W"], c.model_.params["dense_0.W"])
    assert clone(a).get_params() == a.get_params()


def test_pipeline_gridsearch_cross_val_score(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), GlassnetClassifier(hidden_layer_sizes=(16,), epochs=5, lr=0.01,
                                                              random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.75
    grid = GridSearchCV(pipe, {"glassnetclassifier__lr": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"glassnetclassifier__lr": 1e-2}
    assert grid.score(X, y) > 0.9


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_partial_fit_equals_fit_one_epoch_at_a_time(digits, path):
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), optimizer="sgd", lr=0.05, momentum=0.9, random_state=1)
    # bit for bit on the reference path; on the fast path the compiled segments end at each
    # call's last step, so they fall at other steps than one fit's: equal to float32 rounding
    with gn.fast.forced(path == "fast"):
        whole = GlassnetClassifier(epochs=3, **kw).fit(X, y)
        parts = GlassnetClassifier(**kw)
        for _ in range(3):
            parts.partial_fit(X, y, classes=np.arange(10))
    assert parts.n_iter_ == 3
    for k in whole.model_.params:  # same seed, same shuffles, momentum state kept between calls
        if path == "reference":
            assert np.array_equal(whole.model_.params[k], parts.model_.params[k])
        else:
            np.testing.assert_allclose(whole.model_.params[k], parts.model_.params[k], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="classes must be given"):
        GlassnetClassifier(**kw).partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes_"):
        GlassnetClassifier(**kw).partial_fit(X, y, classes=np.arange(5))


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_warm_start_continues(digits, path):
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), optimizer="sgd", lr=0.05, random_state=2)
    with gn.fast.forced(path == "fast"):  # as partial_fit: exact on the reference, rounding on the fast path
        four = GlassnetClassifier(epochs=4, **kw).fit(X, y)
        warm = GlassnetClassifier(epochs=2, warm_start=True, **kw).fit(X, y).fit(X, y)
    assert warm.n_iter_ == 4
    for k in four.model_.params:
        if path == "reference":
            assert np.array_equal(four.model_.params[k], warm.model_.params[k])
        else:
            np.testing.assert_allclose(four.model_.params[k], warm.model_.params[k], rtol=1e-4, atol=1e-5)
    cold = GlassnetClassifier(epochs=2, **kw).fit(X, y)
    first = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not first and cold.n_iter_ == 2


def test_build_fn_convolutional_model(digits):
    X, y = digits

    def build(input_shape, n_outputs, seed):
        return gn.Sequential([gn.Conv2D(4, 3, activation="relu"), gn.MaxPool2D(2), gn.Flatten(),
                              gn.Dense(n_outputs)], input_shape=input_shape, seed=seed)

    clf = GlassnetClassifier(build_fn=build, input_shape=(8, 8, 1), epochs=8, lr=0.01, random_state=0)
    clf.fit(X, y)
    assert isinstance(clf.model_.layers[0], gn.Conv2D)
    assert clf.score(X, y) > 0.8


def test_build_fn_errors_are_clear(digits):
    X, y = digits

    def wrong_outputs(input_shape, n_outputs, seed):
        return gn.Sequential([gn.Dense(3)], input_shape=input_shape, seed=seed)

    def drops_seed(input_shape, n_outputs, seed):
        return gn.Sequential([gn.Dense(n_outputs)], input_shape=input_shape, seed=0)

    with pytest.raises(gn.GlassnetError, match=r"output shape \(3,\).*needs \(10,\)"):
        GlassnetClassifier(build_fn=wrong_outputs, epochs=1).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="must pass its `seed`"):
        GlassnetClassifier(build_fn=drops_seed, epochs=1, random_state=3).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="build_fn must return a glassnet Sequential"):
        GlassnetClassifier(build_fn=lambda *a: "model", epochs=1).fit(X, y)


@pytest.mark.parametrize("param, value, match", [
    ("optimizer", "lbfgs", "optimizer must be one of"),
    ("lr", -1.0, "lr must be a number >= 0"),
    ("momentum", 1.0, "momentum must be a number"),
    ("epochs", 0, "epochs must be a positive int"),
    ("batch_size", "auto", "batch_size must be a positive int or 'full'"),
    ("hidden_layer_sizes", (4, 0), "hidden_layer_sizes must be a tuple of positive ints"),
    ("activation", "nope", "activation must be one of"),
    ("random_state", -1, "random_state must be"),
])
def test_bad_parameters_fail_in_fit_naming_the_parameter(digits, param, value, match):
    X, y = digits
    clf = GlassnetClassifier(**{param: value})  # __init__ never validates (scikit-learn convention)
    with pytest.raises(ValueError, match=match):
        clf.fit(X[:20], y[:20])


def test_regressor_single_and_multi_target():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.1, random_state=0)
    y = y / y.std(0)
    reg = GlassnetRegressor(hidden_layer_sizes=(32,), epochs=60, lr=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, y) > 0.9
    reg1 = clone(reg).fit(X, y[:, 0])
    assert reg1.predict(X).shape == (200,) and reg1.score(X, y[:, 0]) > 0.9
    with pytest.raises(ValueError, match="loss must be a regression loss"):
        GlassnetRegressor(loss="softmax_cross_entropy").fit(X, y)


def test_pickle_round_trip(digits):
    X, y = digits
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_divergence_warns(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GlassnetClassifier(hidden_layer_sizes=(8,), optimizer="sgd", lr=1e30, epochs=2, random_state=0).fit(X, y)
    assert any("training stopped early (diverged" in str(w.message) for w in caught)
