"""Grid and random search with cross-validation, trained as model-axis programs.

``GridSearchCV(GlassnetClassifier(...), grid, cv=5)`` fits ``candidates x folds`` networks one
after another. :class:`GlassnetSearchCV` fits the same networks, but stacks every one that has
the same *shapes and loop* into ONE glassnet ensemble and trains it with one ``model.fit`` call:

* **per model** (one value per network of a program): the parameters in
  :data:`~glassnet.sklearn.PER_MODEL_PARAMS` -- ``lr``, ``momentum``, ``weight_decay``, ``l1`` and
  ``random_state`` (the network's seed: initial weights and shuffles) -- and the fold: each network
  gets its own fold's training rows as per-model data ``x`` ``(M, n_train, ...)``;
* **per program**: everything else (``hidden_layer_sizes``, ``activation``, ``batch_size``,
  ``epochs``, ``optimizer``, ``build_fn``, ...) and the shapes of the data: the number of training
  rows, features and outputs (classes). Candidates that differ there become separate programs.

Folds of different sizes (1,797 digits in 5 folds: training sets of 1,437 and 1,438 rows) are
**grouped by size**, never padded or subsampled: a network must see exactly the rows, batches and
shuffles it would see alone, so each size is its own program (two programs for the digits grid).
Padding a shorter fold with zero-weight rows would make one program, but the last batch of each
epoch would then differ in length from a single fit's, and BLAS sums a product with extra zero
rows in a different order: results equal only up to rounding. Grouping keeps them exact.

Why the results equal ``GridSearchCV``'s: the candidates come from the same ``ParameterGrid`` /
``ParameterSampler``, the folds from the same ``check_cv(cv, y, classifier=...)`` splits, each
network is built and seeded exactly as ``GlassnetClassifier.fit`` builds it (model ``m`` of a
glassnet ensemble draws its weights and shuffles from its own seed's streams, the same numbers a
single network with that seed draws), and every network is scored by the same scorer on a fitted
estimator holding that network alone (:func:`~glassnet.sklearn.take_model`). Per-model learning
rates, momenta and penalties are the same numbers in the same update formulas; where a program
mixes zero and non-zero values, a zero is exact too (momentum 0: ``v = 0*v + g``, the step is
``-lr*g``; weight decay or L1 0 adds exactly 0 to the gradient). The engine switches
a few speed choices (contiguous transposes, an einsum sum, the sigmoid formula) at
``glassnet.backend.MANY_MODELS`` = 16 networks: below it every network is bit-identical to a
single fit by the engine's own guarantee; above it ReLU/tanh MLPs were measured bit-identical on
this machine (the test asserts equal scores), while sigmoid/swish/softplus networks differ from a
single fit by a few ulps. ``max_models=15`` keeps every program below the boundary (slower).

``seeds=[s0, s1, ...]`` trains every candidate x fold once per seed (overriding
``random_state``), all in the same programs, and scores each fold by the mean over seeds.

Several scorers (``scoring=["accuracy", "f1_macro"]`` or ``{"acc": "accuracy", "f1": make_scorer(...)}``)
score every network once each, as ``GridSearchCV`` does: ``cv_results_`` then holds
``split<k>_test_<name>``, ``mean_test_<name>``, ``std_test_<name>``, ``rank_test_<name>`` (and
``*_train_<name>``) per scorer, and ``refit`` must name the scorer that picks the best candidate
(or be a callable ``refit(cv_results_) -> index``, or False).
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable, validate_data

from ..errors import GlassnetError
from ._estimators import PER_MODEL_PARAMS, _GlassnetEstimator
from ._models import take_model
from ._program import train_program
from ._results import store_results


@dataclass
class _Task:
    """One network to train: candidate ``cand``, fold ``fold``, seed index ``rep``."""

    cand: int
    fold: int
    rep: int
    est: object
    seed: int
    data: "_FoldData"
    #: scorer name -> score (the name is ``"score"`` for a single scorer)
    test_scores: dict = field(default_factory=dict)
    train_scores: dict = field(default_factory=dict)
    fit_time: float = 0.0
    score_time: float = 0.0


@dataclass
class _FoldData:
    """A fold's training rows, validated as ``estimator.fit`` validates them; ``scratch`` is the
    estimator that validated them (it validates test rows as ``predict`` would)."""

    x: np.ndarray
    t: np.ndarray
    attrs: dict
    scratch: object
    _tests: dict = field(default_factory=dict)

    def test(self, X, y, rows):
        """``(network input, targets)`` for ``rows`` of ``(X, y)``, validated once per fold."""
        key = id(rows)
        if key not in self._tests:
            xv = validate_data(self.scratch, _safe_indexing(X, rows), reset=False, dtype=(np.float64, np.float32))
            self._tests[key] = (self.scratch._as_input(xv), _safe_indexing(y, rows))
        return self._tests[key]


_TRAIN, _TEST = 0, 1  # positions in a (train rows, test rows) split


def _outputs(model, x, M) -> np.ndarray:
    """``model.predict(x)`` as float64 ``(M, n, K)``."""
    out = np.asarray(model.predict(x), dtype=np.float64)
    return out.reshape((M,) + out.shape[-2:])


def _delegate(name):
    def check(self):
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, name)
        return hasattr(self.estimator, name)

    return check


class GlassnetSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Exhaustive (``param_grid``) or random (``param_distributions``, ``n_iter``) search over a
    glassnet estimator, every candidate x fold x seed of one shape trained as one ensemble.

    Parameters
    ----------
    estimator : GlassnetClassifier or GlassnetRegressor
    param_grid : dict or list of dicts, as ``GridSearchCV``'s
    param_distributions : dict or list of dicts, as ``RandomizedSearchCV``'s (give this or
        ``param_grid``); ``n_iter`` candidates are drawn with ``random_state``.
    scoring : None (the estimator's ``score``), a scorer name or a callable ``(est, X, y)``; or
        several: a list of scorer names or a dict ``{name: scorer name or callable}``.
    cv : int, splitter or iterable, as ``GridSearchCV``'s (default 5-fold, stratified for
        classifiers).
    refit : bool, str or callable, default True. Refit the best candidate on all of ``X`` as
        ``best_estimator_``. With several scorers: the name of the one that picks the best, a
        callable ``refit(cv_results_) -> best index``, or False (no ``best_*`` attributes).
    seeds : None or list of int. Train each candidate x fold once per seed (overriding
        ``random_state``) and score each fold by the mean over seeds; the refit uses ``seeds[0]``.
    max_models : None or int. Most networks per program (None: no limit); larger groups are
        split in order. See the module docstring for ``max_models=15``.
    error_score : "raise" or a number (default NaN), the score of a candidate whose training fails.
    return_train_score : bool, default False.
    random_state : int, RandomState or None; draws the candidates of a random search.
    verbose : int. 1 prints one line per program.

    Attributes
    ----------
    cv_results_ : dict of arrays, as ``GridSearchCV.cv_results_`` (``mean_fit_time`` is each
        network's share of its program's wall time).
    best_index_, best_params_, best_score_, best_estimator_, refit_time_, n_splits_, as
    ``GridSearchCV``'s (``best_score_`` is absent when ``refit`` is a callable).
    scorer_ : the scorer, or a dict ``{name: scorer}`` with several.
    multimetric_ : bool, whether several scorers were given.
    programs_ : list of dicts, one per model-axis program: the shared parameters, ``models``,
        ``n_train``, ``seconds``.
    """

    def __init__(self, estimator, param_grid=None, *, param_distributions=None, n_iter=10, scoring=None,
                 cv=None, refit=True, seeds=None, max_models=None, error_score=np.nan,
                 return_train_score=False, random_state=None, verbose=0):
        self.estimator = estimator
        self.param_grid = param_grid
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.seeds = seeds
        self.max_models = max_models
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.random_state = random_state
        self.verbose = verbose

    # -- setup --------------------------------------------------------------------------------------
    def _candidates(self) -> list[dict]:
        if (self.param_grid is None) == (self.param_distributions is None):
            raise GlassnetError("give exactly one of param_grid (grid search) and param_distributions "
                                "(random search)", field="param_grid")
        if self.param_grid is not None:
            return list(ParameterGrid(self.param_grid))
        return list(ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state))

    def _check(self):
        if not isinstance(self.estimator, _GlassnetEstimator):
            raise GlassnetError(f"estimator must be a GlassnetClassifier or GlassnetRegressor, got "
                                f"{type(self.estimator).__name__}; use GridSearchCV for other estimators",
                                field="estimator")
        if self.seeds is not None:
            seeds = list(self.seeds)
            if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
                                    for s in seeds):
                raise GlassnetError(f"seeds must be None or a non-empty list of ints >= 0, got {self.seeds!r}",
                                    field="seeds")
        mm = self.max_models
        if mm is not None and (isinstance(mm, bool) or not isinstance(mm, numbers.Integral) or mm < 1):
            raise GlassnetError(f"max_models must be None or a positive int, got {mm!r}", field="max_models")
        if not (self.error_score == "raise" or isinstance(self.error_score, numbers.Number)):
            raise GlassnetError(f"error_score must be 'raise' or a number, got {self.error_score!r}",
                                field="error_score")

    def _scorers(self) -> dict | None:
        """``{name: scorer}`` of multi-metric ``scoring`` (a list, tuple or set of names, or a dict
        of names or callables), checked as ``GridSearchCV`` checks them; None for one scorer."""
        scoring = self.scoring
        if not isinstance(scoring, (list, tuple, set, dict)):
            return None
        if isinstance(scoring, dict):
            names, specs = list(scoring), list(scoring.values())
        else:
            names = specs = list(scoring)
        if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise GlassnetError(f"scoring as several scorers must be a non-empty list of distinct scorer names "
                                f"or a dict {{name: scorer}} with string keys, got {scoring!r}", field="scoring")
        scorers = {}
        for name, spec in zip(names, specs):
            if not (isinstance(spec, str) or callable(spec)):
                raise GlassnetError(f"scoring[{name!r}] must be a scorer name or a callable (est, X, y), got "
                                    f"{spec!r}", field="scoring")
            if isinstance(spec, str) and spec not in get_scorer_names():
                raise GlassnetError(f"scoring[{name!r}]: {spec!r} is not a scikit-learn scorer name "
                                    "(sklearn.metrics.get_scorer_names() lists them)", field="scoring")
            scorers[name] = check_scoring(self.estimator, spec)
        refit = self.refit
        if not (refit is False or callable(refit) or (isinstance(refit, str) and refit in scorers)):
            names = ", ".join(map(repr, scorers))
            raise GlassnetError(f"with several scorers, refit must be the name of one ({names}), "
                                f"a callable refit(cv_results_) -> index, or False; got {refit!r}", field="refit")
        return scorers

    # -- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y=None, groups=None):
        """Train every candidate x fold (x seed) in model-axis programs, then refit the best."""
        self._check()
        X, y, groups = indexable(X, y, groups)
        candidates = self._candidates()
        if not candidates:
            raise GlassnetError("the search has no candidates", field="param_grid")
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        self.n_splits_ = len(splits)
        scorers = self._scorers()
        self.multimetric_ = scorers is not None
        self.scorer_ = scorers if self.multimetric_ else check_scoring(self.estimator, self.scoring)
        seeds = [None] if self.seeds is None else [int(s) for s in self.seeds]
        tasks, failed = self._plan(X, y, candidates, splits, seeds)
        self.programs_ = []
        for program in self._programs(tasks):
            self._run_program(program, X, y, splits)
        self._store_results(candidates, tasks, failed, len(seeds))
        if self.refit:
            best = clone(self.estimator).set_params(**candidates[self.best_index_])
            if self.seeds is not None:
                best.set_params(random_state=seeds[0])
            t0 = time.perf_counter()
            self.best_estimator_ = best.fit(X, y)
            self.refit_time_ = time.perf_counter() - t0
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self

    def _plan(self, X, y, candidates, splits, seeds):
        """Validate each candidate and fold once; list the networks to train."""
        tasks, failed, folds = [], {}, {}
        for ci, params in enumerate(candidates):
            est = clone(self.estimator).set_params(**clone(params, safe=False))
            try:
                est._check_params()
            except Exception as exc:  # noqa: BLE001 - reported as GridSearchCV does
                if self.error_score == "raise":
                    raise
                failed[ci] = f"{type(exc).__name__}: {exc}"
                continue
            for fi, (train, _) in enumerate(splits):
                key = (fi, type(est), est.dtype, None if est.input_shape is None else tuple(est.input_shape))
                if key not in folds:
                    folds[key] = self._fold_data(est, _safe_indexing(X, train), _safe_indexing(y, train))
                for ri, seed in enumerate(seeds):
                    tasks.append(_Task(ci, fi, ri, est, est._seed() if seed is None else seed, folds[key]))
        return tasks, failed

    @staticmethod
    def _fold_data(est, X, y) -> _FoldData:
        scratch = clone(est)
        x, t = scratch._validate(X, y, reset=True)
        params = scratch.get_params(deep=False)
        attrs = {k: v for k, v in vars(scratch).items() if k not in params}
        return _FoldData(scratch._as_input(x), scratch._training_targets(t, attrs), attrs, scratch)

    def _programs(self, tasks):
        """Tasks grouped by everything that is not per model (and by data shape), in order,
        split into chunks of at most ``max_models``."""
        groups: "OrderedDict[tuple, list]" = OrderedDict()
        shared = {}
        names = [k for k in self.estimator._get_param_names() if k not in PER_MODEL_PARAMS]  # get_params(deep=False)'s
        for task in tasks:
            if id(task.est) not in shared:
                shared[id(task.est)] = tuple(sorted((k, repr(getattr(task.est, k))) for k in names))
            key = (type(task.est).__name__, shared[id(task.est)], task.data.x.shape,
                   task.est._n_outputs_of(task.data.attrs))
            groups.setdefault(key, []).append(task)
        size = self.max_models
        for group in groups.values():
            step = len(group) if size is None else size
            for i in range(0, len(group), step):
                yield group[i:i + step]

    def _run_program(self, program, X, y, splits):
        rep = program[0].est
        M = len(program)
        t0 = time.perf_counter()
        try:
            datas = [t.data for t in program]
            uniq = list({id(d): d for d in datas}.values())  # distinct folds, in order
            block_of = [next(i for i, u in enumerate(uniq) if u is d) for d in datas]
            model = rep._new_model(datas[0].x.shape[1:], rep._n_outputs_of(datas[0].attrs),
                                   [t_.seed for t_ in program])
            optimizer = rep._new_optimizer(lr=[t_.est.lr for t_ in program],
                                           momentum=[t_.est.momentum for t_ in program])
            kw = rep._train_kwargs()
            hist = train_program(model, np.stack([u.x for u in uniq]), np.stack([u.t for u in uniq]), block_of,
                                 optimizer=optimizer, epochs=int(rep.epochs), batch_size=kw["batch_size"],
                                 shuffle=kw["shuffle"], loss=kw["loss"],
                                 weight_decay=[t_.est.weight_decay for t_ in program],
                                 l1=[t_.est.l1 for t_ in program])
        except Exception as exc:  # noqa: BLE001 - a failing program scores error_score, as GridSearchCV
            if self.error_score == "raise":
                raise
            warnings.warn(f"{M} fits failed ({type(exc).__name__}: {exc}); their score is "
                          f"{self.error_score}", FitFailedWarning, stacklevel=3)
            for task in program:
                task.test_scores = dict.fromkeys(self._score_names(), float(self.error_score))
                task.train_scores = dict(task.test_scores)
            return
        seconds = time.perf_counter() - t0
        self.programs_.append({"params": {k: v for k, v in rep.get_params(deep=False).items()
                                          if k not in PER_MODEL_PARAMS},
                               "models": M, "n_train": int(datas[0].x.shape[0]), "seconds": seconds})
        if self.verbose:
            print(f"[GlassnetSearchCV] program {len(self.programs_)}: {M} networks x {datas[0].x.shape[0]} "
                  f"rows, {seconds:.2f} s")
        outputs = {}  # _TRAIN / _TEST: every network on its own fold's rows; or (fold, rows) -> (M, n, K)

        def score(task, m, side):
            """The estimator's own score of network ``m`` from its row of the ensemble's outputs (row
            m of ``model.predict`` equals network m's own prediction: see take_model). Every network
            on its own fold's rows in one predict of per-model inputs ``(M, n, ...)``; when the
            folds' row counts differ, each fold's rows through every network (F times the work)."""
            rows = splits[task.fold][side]
            if side not in outputs:
                xs = [t.data.test(X, y, splits[t.fold][side])[0] for t in program]
                outputs[side] = _outputs(model, np.stack(xs), M) if len({x.shape for x in xs}) == 1 else None
            key = side if outputs[side] is not None else (id(task.data), id(rows))
            if key not in outputs:
                outputs[key] = _outputs(model, task.data.test(X, y, rows)[0], M)
            return float(task.est._score_outputs(outputs[key][m], task.data.test(X, y, rows)[1], task.data.attrs))

        for m, task in enumerate(program):
            task.fit_time = seconds / M
            train, test = splits[task.fold]
            s0 = time.perf_counter()
            if self.scoring is None:  # the estimator's own score, from the network's outputs
                task.test_scores = {"score": score(task, m, _TEST)}
                if self.return_train_score:
                    task.train_scores = {"score": score(task, m, _TRAIN)}
            else:
                one = take_model(model, m)
                fitted = clone(task.est)
                fitted.__dict__.update(task.data.attrs)
                fitted.model_ = one
                fitted.optimizer_ = task.est._new_optimizer()
                fitted.n_iter_ = int(rep.epochs)
                fitted.loss_curve_ = [float(v) for v in hist.curves["loss"][m]]
                task.test_scores = self._score(fitted, _safe_indexing(X, test), _safe_indexing(y, test))
                if self.return_train_score:
                    task.train_scores = self._score(fitted, _safe_indexing(X, train), _safe_indexing(y, train))
            task.score_time = time.perf_counter() - s0

    def _score_names(self) -> list[str]:
        """The suffixes of the score keys: ``"score"`` for one scorer, else each scorer's name."""
        return list(self.scorer_) if self.multimetric_ else ["score"]

    def _score(self, est, X, y) -> dict:
        """``{name: score}`` of ``est`` on ``(X, y)`` by every scorer (one entry for one scorer);
        a scorer that fails scores ``error_score``."""
        scorers = self.scorer_ if self.multimetric_ else {"score": self.scorer_}
        out = {}
        for name, scorer in scorers.items():
            try:
                out[name] = float(scorer(est, X, y))
            except Exception as exc:  # noqa: BLE001
                if self.error_score == "raise":
                    raise
                warnings.warn(f"scoring failed ({type(exc).__name__}: {exc}); the score is {self.error_score}",
                              FitFailedWarning, stacklevel=4)
                out[name] = float(self.error_score)
        return out

    # -- results (glassnet.sklearn._results) ------------------------------------------------------
    _store_results = store_results

    # -- using the best estimator ---------------------------------------------------------------------
    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X):
        return self._best().predict(X)

    @available_if(_delegate("predict_proba"))
    def predict_proba(self, X):
        return self._best().predict_proba(X)

    @available_if(_delegate("predict_log_proba"))
    def predict_log_proba(self, X):
        return self._best().predict_log_proba(X)

    def score(self, X, y=None):
        """``scorer_(best_estimator_, X, y)`` (the ``refit`` scorer's with several), as
        ``GridSearchCV.score``."""
        best = self._best()
        if self.multimetric_:
            if not isinstance(self.refit, str):
                raise GlassnetError("score needs refit to name one of the scorers", field="refit")
            return self.scorer_[self.refit](best, X, y)
        return self.scorer_(best, X, y)

    @property
    def classes_(self):
        return self._best().classes_

    @property
    def n_features_in_(self):
        return self._best().n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = self.estimator.__sklearn_tags__()
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = sub.classifier_tags
        tags.regressor_tags = sub.regressor_tags
        tags.target_tags.required = sub.target_tags.required
        return tags
