"""GlassnetSearchCV: candidates x folds (x seeds) as model-axis programs, equal to GridSearchCV."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor, GlassnetSearchCV, take_model  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _same_results(ours, theirs, n_splits):
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_
    for k in range(n_splits):
        key = f"split{k}_test_score"
        assert np.array_equal(ours.cv_results_[key], theirs.cv_results_[key]), key
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert np.array_equal(ours.cv_results_[key], theirs.cv_results_[key]), key
    assert ours.best_score_ == theirs.best_score_


# The acceptance grid: 12 candidates x 5 folds of small MLPs on all 1,797 digits. hidden sizes
# change shapes (two architectures); lr and momentum are per-model hyperparameters; the 5
# stratified folds have 1,437 or 1,438 training rows, so 2 x 2 = 4 programs (12, 18, 12 and 18
# networks: both sides of the engine's MANY_MODELS = 16 boundary). Same folds (StratifiedKFold(5)
# via cv=5), same seed (random_state=0 for every network): the comparison is exact.
GRID = {"hidden_layer_sizes": [(8,), (16,)], "lr": [0.01, 0.05, 0.2], "momentum": [0.0, 0.9]}


def test_digits_grid_equals_gridsearchcv_exactly(digits):
    """The benchmark's grid and settings (benchmarks/gridsearch.py: batch 32, 10 epochs): 450 steps
    a network, enough for a last-bit difference in any network's training to flip a test row."""
    X, y = digits
    est = GlassnetClassifier(optimizer="sgd", epochs=10, batch_size=32, random_state=0)
    ours = GlassnetSearchCV(est, GRID, cv=5).fit(X, y)
    theirs = GridSearchCV(est, GRID, cv=5).fit(X, y)
    assert len(ours.cv_results_["params"]) == 12
    _same_results(ours, theirs, 5)
    # the candidates are well separated: the best is not a near-tie
    means = np.sort(ours.cv_results_["mean_test_score"])
    assert means[-1] - means[-2] > 0.005
    assert [p["models"] for p in ours.programs_] == [12, 18, 12, 18]
    assert sorted(ours.cv_results_) == sorted(theirs.cv_results_)
    for name in ("param_lr", "param_momentum", "param_hidden_layer_sizes"):
        assert list(ours.cv_results_[name]) == list(theirs.cv_results_[name])
    # the refit best estimator is the one GridSearchCV refits
    for k, v in ours.best_estimator_.model_.params.items():
        assert np.array_equal(v, theirs.best_estimator_.model_.params[k])
    assert np.array_equal(ours.predict_proba(X[:50]), theirs.predict_proba(X[:50]))
    assert ours.score(X, y) == theirs.score(X, y)


def test_scores_from_one_predict_per_program_and_from_each_fold_are_exact(digits):
    """Each network is scored on its own fold's rows: one predict of per-model inputs when the
    folds' row counts agree (the training rows here: 200 each), each fold's rows through every
    network when they differ (test rows: 100 and 60). Both equal GridSearchCV's, train and test."""
    X, y = digits
    X, y = X[:300], y[:300]
    cv = [(np.arange(0, 200), np.arange(200, 300)), (np.arange(100, 300), np.arange(0, 60))]
    est = GlassnetClassifier(optimizer="sgd", epochs=2, batch_size=32, random_state=0)
    grid = {"lr": [0.05, 0.2], "momentum": [0.0, 0.9]}
    ours = GlassnetSearchCV(est, grid, cv=cv, return_train_score=True).fit(X, y)
    theirs = GridSearchCV(est, grid, cv=cv, return_train_score=True).fit(X, y)
    assert [p["models"] for p in ours.programs_] == [8]
    _same_results(ours, theirs, 2)
    for k in range(2):
        key = f"split{k}_train_score"
        assert np.array_equal(ours.cv_results_[key], theirs.cv_results_[key]), key


def test_random_search_equals_randomizedsearchcv_and_chunks_stay_exact(digits):
    X, y = digits
    X, y = X[:500], y[:500]
    from scipy.stats import loguniform

    est = GlassnetClassifier(hidden_layer_sizes=(8,), activation="sigmoid", optimizer="sgd", epochs=2,
                             batch_size=32, random_state=3)
    dist = {"lr": loguniform(1e-3, 1.0), "weight_decay": [0.0, 1e-3]}
    # sigmoid's formula depends on the MANY_MODELS boundary: programs of <= 15 networks are exact
    ours = GlassnetSearchCV(est, param_distributions=dist, n_iter=6, cv=3, random_state=1, max_models=15).fit(X, y)
    theirs = RandomizedSearchCV(est, dist, n_iter=6, cv=3, random_state=1).fit(X, y)
    _same_results(ours, theirs, 3)
    assert all(p["models"] <= 15 for p in ours.programs_)


def test_seeds_train_every_candidate_fold_per_seed_in_one_program(digits):
    X, y = digits
    X, y = X[:400], y[:400]
    est = GlassnetClassifier(hidden_layer_sizes=(8,), optimizer="sgd", epochs=2, batch_size=32)
    cv = KFold(4)  # equal folds of 300 rows: one program
    ours = GlassnetSearchCV(est, {"lr": [0.01, 0.1]}, cv=cv, seeds=[0, 1, 2]).fit(X, y)
    assert [p["models"] for p in ours.programs_] == [2 * 4 * 3]
    # each fold's score is the mean over the three seeds of single fits
    for ci, lr in enumerate([0.01, 0.1]):
        for k, (tr, te) in enumerate(cv.split(X, y)):
            single = [GlassnetClassifier(hidden_layer_sizes=(8,), optimizer="sgd", epochs=2, batch_size=32,
                                         lr=lr, random_state=s).fit(X[tr], y[tr]).score(X[te], y[te])
                      for s in (0, 1, 2)]
            assert ours.cv_results_[f"split{k}_test_score"][ci] == pytest.approx(np.mean(single), abs=1e-12)
    assert ours.cv_results_["std_seed_test_score"].shape == (2,)
    assert ours.best_estimator_.random_state == 0


def test_scorer_and_train_scores_and_regressor():
    X, y = make_regression(n_samples=150, n_features=4, noise=0.5, random_state=0)
    y = y / y.std()
    est = GlassnetRegressor(hidden_layer_sizes=(8,), optimizer="sgd", epochs=5, batch_size=16, random_state=0)
    grid = {"lr": [0.001, 0.01, 0.05]}
    kw = dict(cv=3, scoring="neg_mean_squared_error", return_train_score=True)
    ours = GlassnetSearchCV(est, grid, **kw).fit(X, y)
    theirs = GridSearchCV(est, grid, **kw).fit(X, y)
    _same_results(ours, theirs, 3)
    assert np.array_equal(ours.cv_results_["mean_train_score"], theirs.cv_results_["mean_train_score"])
    default = GlassnetSearchCV(est, grid, cv=3).fit(X, y)  # R^2, computed from the outputs
    assert np.array_equal(default.cv_results_["mean_test_score"], GridSearchCV(est, grid, cv=3).fit(X, y)
                          .cv_results_["mean_test_score"])


def test_failing_candidates_score_error_score(digits):
    X, y = digits
    X, y = X[:200], y[:200]
    est = GlassnetClassifier(hidden_layer_sizes=(4,), optimizer="sgd", epochs=1, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = GlassnetSearchCV(est, {"lr": [0.01, -1.0]}, cv=2).fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    assert search.cv_results_["rank_test_score"].tolist() == [1, 2]
    assert any("lr must be a number >= 0" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="lr must be"):
        GlassnetSearchCV(est, {"lr": [-1.0]}, cv=2, error_score="raise").fit(X, y)


def test_bad_arguments_are_clear(digits):
    X, y = digits
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(gn.GlassnetError, match="estimator must be a GlassnetClassifier"):
        GlassnetSearchCV(LogisticRegression(), {"C": [1.0]}).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="exactly one of param_grid"):
        GlassnetSearchCV(GlassnetClassifier()).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="with several scorers, refit must be the name of one"):
        GlassnetSearchCV(GlassnetClassifier(), {"lr": [0.1]}, scoring=["accuracy", "f1"]).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="seeds must be"):
        GlassnetSearchCV(GlassnetClassifier(), {"lr": [0.1]}, seeds=[]).fit(X, y)


def test_take_model_is_one_network_of_the_ensemble():
    model = gn.Sequential([gn.Dense(5, activation="tanh"), gn.BatchNorm(), gn.Dense(3)], input_shape=(4,),
                          seed=[3, 4, 5])
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    model.fit(x, np.arange(20) % 3, loss="softmax_cross_entropy", epochs=2, batch_size=5, progress=False)
    one = take_model(model, 1)
    assert one.M == 1 and not one.ensemble and one.seeds == [4]
    assert np.array_equal(one.predict(x), model.predict(x)[1])
    with pytest.raises(gn.GlassnetError, match=r"model index must be in \[0, 3\)"):
        take_model(model, 3)
