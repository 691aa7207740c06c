"""A build_fn may return a graph Model (here a residual MLP): the estimators, cross_val_score,
clone/get_params, pickling and GlassnetSearchCV (equal to GridSearchCV) all take it."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor, GlassnetSearchCV, take_model  # noqa: E402


def residual_mlp(input_shape, n_outputs, seed):
    """Dense 16 relu, then a residual block (Dense 16 tanh, Dense 16, added to its input), then logits."""
    x = gn.Input(input_shape)
    h = gn.Dense(16, activation="relu")(x)
    r = gn.Dense(16)(gn.Dense(16, activation="tanh")(h))
    h = gn.Activation("relu")(gn.Add()([h, r]))
    return gn.Model(x, gn.Dense(n_outputs)(h), seed=seed)


def two_branch(input_shape, n_outputs, seed):
    x = gn.Input(input_shape)
    a = gn.Dense(6, activation="relu")(x)
    b = gn.Dense(4, activation="tanh")(x)
    return gn.Model(x, gn.Dense(n_outputs)(gn.Concatenate()([a, b])), seed=seed)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_residual_classifier_fits_predicts_and_pickles(digits):
    X, y = digits
    clf = GlassnetClassifier(build_fn=residual_mlp, epochs=10, lr=0.01, random_state=0).fit(X, y)
    assert isinstance(clf.model_, gn.Model) and clf.score(X, y) > 0.9
    again = GlassnetClassifier(build_fn=residual_mlp, epochs=10, lr=0.01, random_state=0).fit(X, y)
    for k, v in clf.model_.params.items():  # same random_state, same network, bit for bit
        assert np.array_equal(v, again.model_.params[k])
    back = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(back.predict_proba(X[:20]), clf.predict_proba(X[:20]))


def test_clone_and_get_params_keep_the_graph_builder(digits):
    X, y = digits
    clf = GlassnetClassifier(build_fn=residual_mlp, epochs=2, random_state=1)
    params = clf.get_params()
    assert params["build_fn"] is residual_mlp
    twin = clone(clf)
    assert twin.get_params() == params and not hasattr(twin, "model_")
    twin.set_params(build_fn=two_branch).fit(X, y)
    assert any(isinstance(layer, gn.Concatenate) for layer in twin.model_.layers)


def test_residual_mlp_in_cross_val_score_equals_fold_by_fold_fits(digits):
    X, y = digits
    clf = GlassnetClassifier(build_fn=residual_mlp, epochs=3, lr=0.01, random_state=0)
    cv = KFold(3)
    scores = cross_val_score(clf, X, y, cv=cv)
    by_hand = [clone(clf).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in cv.split(X)]
    assert np.array_equal(scores, by_hand) and scores.min() > 0.5


def test_graph_build_fn_search_equals_gridsearchcv(digits):
    X, y = digits
    est = GlassnetClassifier(build_fn=residual_mlp, optimizer="sgd", epochs=2, batch_size=32, random_state=0)
    grid = {"lr": [0.02, 0.1], "momentum": [0.0, 0.9]}
    ours = GlassnetSearchCV(est, grid, cv=3).fit(X, y)
    theirs = GridSearchCV(est, grid, cv=3).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "split2_test_score", "mean_test_score",
                "rank_test_score"):
        assert np.array_equal(ours.cv_results_[key], theirs.cv_results_[key]), key
    assert ours.best_params_ == theirs.best_params_ and isinstance(ours.best_estimator_.model_, gn.Model)
    assert sum(p["models"] for p in ours.programs_) == 4 * 3


def test_take_model_cuts_a_graph_network_out_of_an_ensemble():
    model = residual_mlp((5,), 2, [3, 4, 5])
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    model.fit(x, np.zeros((7, 2), np.float32), loss="mse", epochs=1, progress=False)
    one = take_model(model, 1)
    assert isinstance(one, gn.Model) and one.M == 1 and one.seeds == [4]
    assert np.array_equal(one.predict(x), model.predict(x)[1])


def test_graph_regressor_and_clear_errors():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = X @ rng.standard_normal(4)
    reg = GlassnetRegressor(build_fn=two_branch, epochs=20, lr=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (80,)

    def two_inputs(input_shape, n_outputs, seed):
        a, b = gn.Input(input_shape), gn.Input(input_shape)
        return gn.Model([a, b], gn.Dense(n_outputs)(gn.Add()([a, b])), seed=seed)

    with pytest.raises(gn.GlassnetError, match="must return a Model of one input and one output"):
        GlassnetRegressor(build_fn=two_inputs, epochs=1).fit(X, y)

    def drops_seed(input_shape, n_outputs, seed):
        x = gn.Input(input_shape)
        return gn.Model(x, gn.Dense(n_outputs)(x), seed=7)

    with pytest.raises(gn.GlassnetError, match=r"must pass its `seed` argument"):
        GlassnetRegressor(build_fn=drops_seed, epochs=1, random_state=3).fit(X, y)
