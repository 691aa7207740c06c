"""The results of a :class:`~glassnet.sklearn.GlassnetSearchCV`: ``cv_results_`` and the best
candidate, laid out exactly as ``GridSearchCV`` lays them out, from the scores of every network."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import FitFailedWarning

from ..errors import GlassnetError


def store_results(self, candidates, tasks, failed, n_seeds):
    """Set ``self.cv_results_`` (as ``GridSearchCV``'s: splits, means, stds, ranks, params, times)
    and ``best_index_`` / ``best_score_`` / ``best_params_`` of a search ``self`` from its trained
    ``tasks`` (``failed``: candidate index -> message; ``n_seeds`` runs per candidate x fold)."""
    n_c, n_s = len(candidates), self.n_splits_
    names = self._score_names()
    arrays = {k: np.full((n_c, n_s, n_seeds), np.nan) for k in ("fit", "score")}
    tests = {n: np.full((n_c, n_s, n_seeds), np.nan) for n in names}
    trains = {n: np.full((n_c, n_s, n_seeds), np.nan) for n in names}
    for ci in failed:
        for n in names:
            tests[n][ci] = trains[n][ci] = float(self.error_score)
    if failed:
        warnings.warn(f"{len(failed)} of {n_c} candidates failed; e.g. {next(iter(failed.values()))}",
                      FitFailedWarning, stacklevel=3)
    for t in tasks:
        idx = (t.cand, t.fold, t.rep)
        for n in names:
            tests[n][idx] = t.test_scores.get(n, np.nan)
            trains[n][idx] = t.train_scores.get(n, np.nan)
        arrays["fit"][idx], arrays["score"][idx] = t.fit_time, t.score_time
    results = {}

    def store(name, a, splits=False, rank=False):
        if splits:
            for j in range(n_s):
                results[f"split{j}_{name}"] = a[:, j]
        means = np.average(a, axis=1)
        results[f"mean_{name}"] = means
        results[f"std_{name}"] = np.sqrt(np.average((a - means[:, np.newaxis]) ** 2, axis=1))
        if rank:  # as scikit-learn: NaN means rank last
            if np.isnan(means).all():
                results[f"rank_{name}"] = np.ones_like(means, dtype=np.int32)
            else:
                filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
                results[f"rank_{name}"] = rankdata(-filled, method="min").astype(np.int32, copy=False)

    store("fit_time", arrays["fit"].sum(axis=2))
    store("score_time", arrays["score"].sum(axis=2))
    for name in sorted({k for p in candidates for k in p}):
        col = np.ma.MaskedArray(np.empty(n_c, dtype=object), mask=True)
        for i, p in enumerate(candidates):
            if name in p:
                col[i] = p[name]
        results[f"param_{name}"] = col
    results["params"] = candidates
    for n in names:  # GridSearchCV's order: every scorer's test keys, then their train keys
        store(f"test_{n}", tests[n].mean(axis=2), splits=True, rank=True)
        if n_seeds > 1:
            per_seed = tests[n].mean(axis=1)  # (candidates, seeds)
            results[f"std_seed_test_{n}"] = per_seed.std(axis=1)
    if self.return_train_score:
        for n in names:
            store(f"train_{n}", trains[n].mean(axis=2), splits=True)
    self.cv_results_ = results
    refit = self.refit
    if self.multimetric_ and not refit:
        return  # as GridSearchCV: no best_* without a scorer to choose by
    if callable(refit):
        best = refit(results)
        if not isinstance(best, numbers.Integral) or isinstance(best, bool) or not 0 <= best < n_c:
            raise GlassnetError(f"refit(cv_results_) must return a candidate index in [0, {n_c}), got {best!r}",
                                field="refit")
        self.best_index_ = int(best)
    else:
        key = refit if self.multimetric_ else "score"
        self.best_index_ = int(results[f"rank_test_{key}"].argmin())
        self.best_score_ = float(results[f"mean_test_{key}"][self.best_index_])
    self.best_params_ = candidates[self.best_index_]
