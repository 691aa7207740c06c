"""GlassnetSearchCV with several scorers (a list or a dict, ``refit=<name>``) equals GridSearchCV
over the same glassnet estimator, key for key and score for score."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.metrics import make_scorer, mean_absolute_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor, GlassnetSearchCV  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500] / 16.0, y[:500]


def _same(ours, theirs, names, n_splits, train=False):
    score_keys = [k for k in theirs.cv_results_ if "_test_" in k or "_train_" in k]
    assert sorted(k for k in ours.cv_results_ if "_test_" in k or "_train_" in k) == sorted(score_keys)
    for name in names:
        keys = [f"split{k}_test_{name}" for k in range(n_splits)] + [f"{s}_test_{name}" for s in ("mean", "std",
                                                                                                     "rank")]
        if train:
            keys += [f"split{k}_train_{name}" for k in range(n_splits)] + [f"mean_train_{name}"]
        for key in keys:
            assert np.array_equal(ours.cv_results_[key], theirs.cv_results_[key]), key
    assert sorted(ours.cv_results_) == sorted(theirs.cv_results_)


def test_list_of_scorers_with_refit_name_equals_gridsearchcv(digits):
    X, y = digits
    est = GlassnetClassifier(hidden_layer_sizes=(8,), optimizer="sgd", epochs=2, batch_size=32, random_state=0)
    grid = {"lr": [0.01, 0.1, 0.3], "momentum": [0.0, 0.9]}
    scoring = ["accuracy", "f1_macro", "neg_log_loss"]
    kw = dict(cv=3, scoring=scoring, refit="f1_macro", return_train_score=True)
    ours = GlassnetSearchCV(est, grid, **kw).fit(X, y)
    theirs = GridSearchCV(est, grid, **kw).fit(X, y)
    assert ours.multimetric_ and theirs.multimetric_ and sorted(ours.scorer_) == sorted(scoring)
    _same(ours, theirs, scoring, 3, train=True)
    assert ours.best_index_ == theirs.best_index_ and ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == theirs.best_score_
    assert ours.best_score_ == ours.cv_results_["mean_test_f1_macro"][ours.best_index_]
    for k, v in ours.best_estimator_.model_.params.items():
        assert np.array_equal(v, theirs.best_estimator_.model_.params[k])
    assert ours.score(X, y) == theirs.score(X, y)  # the refit scorer's
    assert sum(p["models"] for p in ours.programs_) == 6 * 3  # every scorer scores the same networks


def test_dict_of_scorers_for_a_regressor_with_seeds_and_refit_callable():
    X, y = make_regression(n_samples=120, n_features=4, noise=0.5, random_state=0)
    y = y / y.std()
    est = GlassnetRegressor(hidden_layer_sizes=(8,), optimizer="sgd", epochs=4, batch_size=16, random_state=0)
    grid = {"lr": [0.001, 0.01, 0.05]}
    scoring = {"mse": "neg_mean_squared_error", "mae": make_scorer(mean_absolute_error, greater_is_better=False),
               "r2": "r2"}
    ours = GlassnetSearchCV(est, grid, cv=KFold(3), scoring=scoring, refit="mae").fit(X, y)
    theirs = GridSearchCV(est, grid, cv=KFold(3), scoring=scoring, refit="mae").fit(X, y)
    _same(ours, theirs, scoring, 3)
    assert ours.best_index_ == theirs.best_index_ and ours.best_score_ == theirs.best_score_

    def pick(results):  # the candidate of the smallest lr whose r2 is within 0.1 of the best
        r2 = results["mean_test_r2"]
        return int(np.flatnonzero(r2 >= r2.max() - 0.1)[0])

    ours = GlassnetSearchCV(est, grid, cv=KFold(3), scoring=scoring, refit=pick).fit(X, y)
    theirs = GridSearchCV(est, grid, cv=KFold(3), scoring=scoring, refit=pick).fit(X, y)
    assert ours.best_index_ == theirs.best_index_ and not hasattr(ours, "best_score_")
    # several seeds: each scorer gets its spread over seeds
    seeded = GlassnetSearchCV(est, grid, cv=KFold(3), scoring=scoring, refit=False, seeds=[0, 1]).fit(X, y)
    assert {"std_seed_test_mse", "std_seed_test_mae", "std_seed_test_r2"} <= set(seeded.cv_results_)
    assert not hasattr(seeded, "best_index_") and not hasattr(seeded, "best_estimator_")


def test_multimetric_refit_and_scoring_errors_are_clear(digits):
    X, y = digits
    est = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    with pytest.raises(gn.GlassnetError, match=r"with several scorers, refit must be the name of one "
                                               r"\('accuracy', 'f1_macro'\)"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring=["accuracy", "f1_macro"]).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="refit must be the name of one"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring=["accuracy"], refit="f1").fit(X, y)
    with pytest.raises(gn.GlassnetError, match="distinct scorer names"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring=["accuracy", "accuracy"], refit=False).fit(X, y)
    with pytest.raises(gn.GlassnetError, match="distinct scorer names"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring=[], refit=False).fit(X, y)
    with pytest.raises(gn.GlassnetError, match=r"scoring\['bad'\]: 'no_such_metric' is not a scikit-learn "
                                               r"scorer name"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring={"bad": "no_such_metric"}, refit=False).fit(X, y)
    with pytest.raises(gn.GlassnetError, match=r"scoring\['n'\] must be a scorer name or a callable"):
        GlassnetSearchCV(est, {"lr": [0.1]}, scoring={"n": 3}, refit="n").fit(X, y)


def test_a_failing_candidate_scores_error_score_for_every_scorer(digits):
    X, y = digits
    est = GlassnetClassifier(hidden_layer_sizes=(4,), optimizer="sgd", epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GlassnetSearchCV(est, {"lr": [0.01, -1.0]}, cv=2, scoring=["accuracy", "balanced_accuracy"],
                                  refit="accuracy").fit(X, y)
    for name in ("accuracy", "balanced_accuracy"):
        assert np.isnan(search.cv_results_[f"mean_test_{name}"][1])
        assert search.cv_results_[f"rank_test_{name}"].tolist() == [1, 2]
