"""scikit-learn estimators over glassnet networks: :class:`GlassnetClassifier`, :class:`GlassnetRegressor`.

Both train one glassnet network (a :class:`~glassnet.Sequential` or a graph
:class:`~glassnet.Model`) with ``model.fit`` (the one Trainer) and follow scikit-learn's estimator
conventions: parameters are stored untouched by ``__init__`` and validated in ``fit``; fitted
state ends in ``_``; ``random_state`` makes a fit reproducible bit for bit; ``partial_fit`` trains
one more epoch and ``warm_start`` continues from the last fit.

The network is an MLP built from ``hidden_layer_sizes`` and ``activation`` unless ``build_fn`` is
given: a callable ``build_fn(input_shape, n_outputs, seed) -> Sequential or Model`` that returns a
model of one input and ``n_outputs`` linear outputs (logits for the classifier: no softmax layer),
a residual MLP built with ``gn.Input``/``gn.Add`` for example, and passes ``seed`` to
``Sequential(seed=seed)`` or ``Model(inputs, outputs, seed=seed)`` unchanged
(:class:`~glassnet.sklearn.GlassnetSearchCV` passes a list of seeds to train many networks as one
model-axis program).

The training objective is glassnet's, not scikit-learn's ``MLPClassifier``'s: the batch mean of
the loss plus ``weight_decay/2 * sum(W**2)`` over weights (biases excluded) and ``l1 * sum|W|``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import GlassnetError
from ._models import build_checked, mlp_builder, take_model

#: optimizers the estimators offer (``optimizer=``); ``momentum``/``nesterov`` apply to "sgd" only
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
#: parameters that may differ between networks of ONE model-axis program (per-model
#: hyperparameters of the engine); every other parameter changes the program (its shapes or loop)
PER_MODEL_PARAMS = ("lr", "momentum", "weight_decay", "l1", "random_state")

_SEED_HIGH = 2**31 - 1


class _GlassnetEstimator(BaseEstimator):
    """Shared parameters and the fit / partial_fit / warm-start logic (see the module docstring).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (64,)
        Units of each hidden Dense layer (ignored when ``build_fn`` is given).
    activation : str, default "relu"
        Hidden activation, any name of ``glassnet.activations.activations`` (or "prelu").
    build_fn : callable or None
        ``build_fn(input_shape, n_outputs, seed) -> Sequential or Model``, replacing the MLP.
    optimizer : {"sgd", "adam", "rmsprop", "adagrad"}, default "adam"
    lr : float, default 0.001
        Learning rate.
    momentum : float, default 0.0
        SGD momentum (PyTorch form ``v = mu v + g``); ignored by the other optimizers.
    nesterov : bool, default False
        Nesterov momentum for SGD.
    epochs : int, default 50
        Passes over the data per ``fit`` (``partial_fit`` makes one).
    batch_size : int or "full", default 32
        Samples per update (more than the data: full batch).
    weight_decay, l1 : float, default 0.0
        L2 rate lambda (penalty ``lambda/2 sum W^2``) and L1 rate on weights, biases excluded.
    shuffle : bool, default True
        Reshuffle every epoch (from the network's own data stream).
    input_shape : tuple of int or None
        Per-sample shape the rows of ``X`` are reshaped to (e.g. ``(8, 8, 1)`` for a convolutional
        ``build_fn``); ``None`` keeps ``(n_features,)``.
    dtype : {"float32", "float64"}, default "float32"
    random_state : int, RandomState or None
        Seed of the network (initial weights, shuffles, dropout). ``None`` draws one per fit.
    warm_start : bool, default False
        ``fit`` continues from the previous fit's weights and optimizer state.

    Attributes
    ----------
    model_ : glassnet.Sequential or glassnet.Model, the trained network (``model_.params`` are its weights).
    optimizer_ : the glassnet optimizer, with its state (momentum, moments).
    history_ : glassnet.History of the last ``fit``/``partial_fit`` call.
    loss_curve_ : list of float, the training loss logged once per epoch, over all calls.
    n_iter_ : int, epochs trained.
    n_features_in_, feature_names_in_ (for DataFrames).
    """

    _loss_name = "mse"

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", *, build_fn=None, optimizer="adam",
                 lr=0.001, momentum=0.0, nesterov=False, epochs=50, batch_size=32, weight_decay=0.0,
                 l1=0.0, shuffle=True, input_shape=None, dtype="float32", random_state=None,
                 warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.build_fn = build_fn
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.l1 = l1
        self.shuffle = shuffle
        self.input_shape = input_shape
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start

    # -- parameters -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate every parameter (scikit-learn convention: in fit, not in __init__)."""
        from ..activations import activations
        from ..backend import resolve_dtype

        def real(name, low, high=None, high_open=False):
            v = getattr(self, name)
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) and v >= low
            ok = ok and (high is None or (v < high if high_open else v <= high))
            if not ok:
                rng = f">= {low}" + ("" if high is None else f" and {'<' if high_open else '<='} {high}")
                raise GlassnetError(f"{name} must be a number {rng}, got {v!r}", field=name, value=v)

        if self.build_fn is None:
            h = self.hidden_layer_sizes
            h = (h,) if isinstance(h, numbers.Integral) and not isinstance(h, bool) else h
            try:
                ok = all(isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in h)
            except TypeError:
                ok = False
            if not ok:
                raise GlassnetError(f"hidden_layer_sizes must be a tuple of positive ints, got "
                                    f"{self.hidden_layer_sizes!r}", field="hidden_layer_sizes",
                                    value=self.hidden_layer_sizes)
            act = self.activation
            if not (isinstance(act, str) and (act.strip().lower() == "prelu" or act in activations)):
                raise GlassnetError(f"activation must be one of {', '.join(activations.names())} or 'prelu', "
                                    f"got {act!r}", field="activation", value=act)
        elif not callable(self.build_fn):
            raise GlassnetError(f"build_fn must be a callable (input_shape, n_outputs, seed) -> Sequential or Model, "
                                f"got {self.build_fn!r}", field="build_fn", value=self.build_fn)
        if self.optimizer not in OPTIMIZERS:
            raise GlassnetError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got "
                                f"{self.optimizer!r}", field="optimizer", value=self.optimizer)
        real("lr", 0)
        real("momentum", 0, 1, high_open=True)
        real("weight_decay", 0)
        real("l1", 0)
        e = self.epochs
        if isinstance(e, bool) or not isinstance(e, numbers.Integral) or e < 1:
            raise GlassnetError(f"epochs must be a positive int, got {e!r}", field="epochs", value=e)
        b = self.batch_size
        if not (b == "full" or (isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1)):
            raise GlassnetError(f"batch_size must be a positive int or 'full', got {b!r}", field="batch_size",
                                value=b)
        if self.input_shape is not None:
            try:
                ok = len(self.input_shape) >= 1 and all(
                    isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in self.input_shape)
            except TypeError:
                ok = False
            if not ok:
                raise GlassnetError(f"input_shape must be None or a tuple of positive ints, got "
                                    f"{self.input_shape!r}", field="input_shape", value=self.input_shape)
        resolve_dtype(self.dtype)
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.RandomState)
                or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and 0 <= rs < 2**32)):
            raise GlassnetError(f"random_state must be None, an int in [0, 2**32) or a RandomState, got {rs!r}",
                                field="random_state", value=rs)

    def _seed(self) -> int:
        """The network's seed: ``random_state`` if it is an int, else one int drawn from it."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral):
            return int(rs)
        return int(check_random_state(rs).randint(_SEED_HIGH))

    def _builder(self):
        if self.build_fn is not None:
            return self.build_fn
        h = self.hidden_layer_sizes
        h = (h,) if isinstance(h, numbers.Integral) else tuple(h)
        return mlp_builder(h, self.activation, self.dtype)

    def _new_model(self, input_shape, n_outputs, seed):
        """A fresh network (or, with a list of seeds, one network per seed on the model axis)."""
        return build_checked(self._builder(), input_shape, n_outputs, seed, self.dtype)

    def _new_optimizer(self, lr=None, momentum=None):
        """The glassnet optimizer; ``lr``/``momentum`` may be lists (one value per network)."""
        from .. import optimizers

        lr = self.lr if lr is None else lr
        if self.optimizer == "sgd":
            momentum = self.momentum if momentum is None else momentum
            return optimizers.SGD(lr, momentum=momentum, nesterov=bool(self.nesterov))
        cls = {"adam": optimizers.Adam, "rmsprop": optimizers.RMSProp, "adagrad": optimizers.AdaGrad}
        return cls[self.optimizer](lr)

    def _train_kwargs(self) -> dict:
        """Arguments of ``model.fit`` shared by every network of a program."""
        return dict(loss=self._loss_name, batch_size=self.batch_size, shuffle=bool(self.shuffle),
                    metrics=[], progress=False)

    # -- data -------------------------------------------------------------------------------------
    def _validate(self, X, y, reset: bool):
        raise NotImplementedError

    def _as_input(self, X) -> np.ndarray:
        """Validated 2-D ``X`` as the network's input: the model dtype, rows reshaped to ``input_shape``."""
        x = np.asarray(X, dtype=self.dtype)
        if self.input_shape is not None:
            shape = tuple(int(d) for d in self.input_shape)
            if int(np.prod(shape)) != x.shape[1]:
                raise GlassnetError(f"input_shape {shape} has {int(np.prod(shape))} values but X has "
                                    f"{x.shape[1]} features", field="input_shape", value=self.input_shape)
            x = x.reshape((x.shape[0],) + shape)
        return x

    # -- training ---------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train for ``epochs`` passes (from scratch, or on from the last fit with ``warm_start``).

        Parameters
        ----------
        X : array-like or DataFrame ``(n_samples, n_features)``
        y : array-like or Series ``(n_samples,)`` (regressor: also ``(n_samples, n_targets)``)

        Returns
        -------
        self
        """
        self._check_params()
        keep = bool(self.warm_start) and hasattr(self, "model_")
        return self._train(X, y, epochs=int(self.epochs), keep=keep)

    def _train(self, X, y, epochs: int, keep: bool, classes=None):
        x, t = self._validate(X, y, reset=not keep, classes=classes)
        x = self._as_input(x)
        if not keep:
            self.model_ = self._new_model(x.shape[1:], self._n_outputs(), self._seed())
            self.optimizer_ = self._new_optimizer()
            self.n_iter_ = 0
            self.loss_curve_ = []
        elif tuple(self.model_.input_shape) != x.shape[1:]:
            raise GlassnetError(f"X has per-sample shape {x.shape[1:]}, the fitted network takes "
                                f"{tuple(self.model_.input_shape)}", field="X")
        t = self._training_targets(t, vars(self))
        hist = self.model_.fit(x, t, optimizer=self.optimizer_, epochs=epochs,
                               weight_decay=self.weight_decay, l1=self.l1, **self._train_kwargs())
        self.history_ = hist
        self.n_iter_ += epochs
        self.loss_curve_ += [float(v) for v in hist["loss"]]
        if hist.status[0] != "completed":
            warnings.warn(f"{type(self).__name__}: training stopped early ({hist.status[0]} at step "
                          f"{int(hist.stopped_at[0])}); lower lr?", ConvergenceWarning, stacklevel=3)
        return self

    def _outputs(self, X) -> np.ndarray:
        """Raw network outputs ``(n_samples, n_outputs)`` for validated ``X``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return np.asarray(self.model_.predict(self._as_input(X)), dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn classifier (softmax cross-entropy on logits).

    Parameters are those of :class:`_GlassnetEstimator` (MLP ``hidden_layer_sizes``/``activation``
    or ``build_fn``, ``optimizer``, ``lr``, ``momentum``, ``epochs``, ``batch_size``,
    ``weight_decay``, ``l1``, ``random_state``, ``warm_start``, ...). The network has one logit per
    class of ``classes_`` (also for two classes, and one for a single class);
    ``predict_proba`` is their softmax, ``predict`` the class of the largest.

    Estimator checks (``sklearn.utils.estimator_checks``): every check passes;
    :data:`glassnet.sklearn.EXPECTED_FAILED_CHECKS` (empty) says why none is skipped.
    """

    _loss_name = "softmax_cross_entropy"

    def _n_outputs(self) -> int:
        return len(self.classes_)

    @staticmethod
    def _n_outputs_of(attrs) -> int:
        """Outputs of a network for fitted attributes ``attrs`` (the search's fold data)."""
        return len(attrs["classes_"])

    def _training_targets(self, t, attrs) -> np.ndarray:
        """Targets the network trains on: one-hot rows instead of integer labels. The fused softmax
        cross-entropy gradient ``(p - onehot)/B`` is then one subtraction instead of a gather and a
        scatter per step (a 64-16-10 MLP at batch 32: 240 -> 170 us per step), and bit for bit the
        gradient of the labels (the logged loss may differ in the last bits: it sums the zeros too)."""
        return np.eye(len(attrs["classes_"]), dtype=self.dtype)[t]

    def _validate(self, X, y, reset: bool, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32))
        kind = type_of_target(y)  # once: it costs ~1 ms on 1,437 labels
        if kind not in ("binary", "multiclass"):
            check_classification_targets(y)  # scikit-learn's own error for what it rejects (continuous, ...)
            raise GlassnetError(f"GlassnetClassifier handles binary or multiclass targets, got {kind!r}", field="y")
        if reset:
            self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        t = np.searchsorted(self.classes_, y)
        unknown = (t >= len(self.classes_)) | (self.classes_[np.minimum(t, len(self.classes_) - 1)] != y)
        if unknown.any():
            raise GlassnetError(f"y has labels not in classes_ {self.classes_.tolist()}: "
                                f"{np.unique(np.asarray(y)[unknown]).tolist()[:5]}", field="y")
        return X, t.astype(np.int64)

    def _score_outputs(self, outputs, y, attrs) -> float:
        """``score`` (accuracy) from raw network outputs: what ``score(X, y)`` returns for a fitted
        estimator with ``attrs`` whose network gives ``outputs`` on ``X``."""
        pred = attrs["classes_"][np.argmax(outputs, axis=1)]
        y = np.asarray(y)
        if y.ndim == 1:  # accuracy_score's count of equal labels over n, without re-validating
            return float(np.average(y == pred))
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, pred)

    def partial_fit(self, X, y, classes=None):
        """One epoch on ``(X, y)``, continuing from the previous call (weights and optimizer state).

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        first = not hasattr(self, "model_")
        if first:
            self._check_params()
            if classes is None:
                raise GlassnetError("classes must be given on the first call to partial_fit", field="classes")
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise GlassnetError(f"classes {list(classes)} differ from classes_ {self.classes_.tolist()} "
                                "of the first partial_fit call", field="classes")
        return self._train(X, y, epochs=1, keep=not first, classes=classes if first else None)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``: the softmax of the logits (float64)."""
        z = self._outputs(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        z = self._outputs(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The class of the largest logit, from ``classes_``."""
        z = self._outputs(X)
        return self.classes_[np.argmax(z, axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn regressor (loss ``loss``, default mean squared error).

    ``y`` may be ``(n_samples,)`` or ``(n_samples, n_targets)``; ``predict`` returns the same
    layout. Targets are not rescaled: standardize them (e.g. ``TransformedTargetRegressor``) when
    their scale is far from 1.

    Estimator checks: every check passes (see :data:`glassnet.sklearn.EXPECTED_FAILED_CHECKS`).
    """

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", *, build_fn=None, loss="mse",
                 optimizer="adam", lr=0.001, momentum=0.0, nesterov=False, epochs=50, batch_size=32,
                 weight_decay=0.0, l1=0.0, shuffle=True, input_shape=None, dtype="float32", random_state=None,
                 warm_start=False):
        super().__init__(hidden_layer_sizes, activation, build_fn=build_fn, optimizer=optimizer, lr=lr,
                         momentum=momentum, nesterov=nesterov, epochs=epochs, batch_size=batch_size,
                         weight_decay=weight_decay, l1=l1, shuffle=shuffle, input_shape=input_shape,
                         dtype=dtype, random_state=random_state, warm_start=warm_start)
        self.loss = loss

    def _check_params(self) -> None:
        super()._check_params()
        from ..losses import losses

        if not (isinstance(self.loss, str) and self.loss in losses
                and losses.get(self.loss).task == "regression"):
            names = [n for n in losses.names() if losses.get(n).task == "regression"]
            raise GlassnetError(f"loss must be a regression loss ({', '.join(names)}), got {self.loss!r}",
                                field="loss", value=self.loss)

    def _train_kwargs(self) -> dict:
        return {**super()._train_kwargs(), "loss": self.loss}

    def _n_outputs(self) -> int:
        return self.n_outputs_

    @staticmethod
    def _n_outputs_of(attrs) -> int:
        return attrs["n_outputs_"]

    def _training_targets(self, t, attrs) -> np.ndarray:
        return t

    def _validate(self, X, y, reset: bool, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32), y_numeric=True,
                             multi_output=True)
        y = np.asarray(y, dtype=self.dtype)
        if reset:
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
            self._y_2d = y.ndim == 2
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise GlassnetError(f"y has {1 if y.ndim == 1 else y.shape[1]} targets, the fitted network "
                                f"predicts {self.n_outputs_}", field="y")
        return X, y.reshape(len(y), self.n_outputs_)

    def _score_outputs(self, outputs, y, attrs) -> float:
        """``score`` (R^2, as ``RegressorMixin.score``) from raw network outputs."""
        from sklearn.metrics import r2_score

        return r2_score(y, outputs if attrs["_y_2d"] else outputs[:, 0])

    def partial_fit(self, X, y):
        """One epoch on ``(X, y)``, continuing from the previous call."""
        first = not hasattr(self, "model_")
        if first:
            self._check_params()
        return self._train(X, y, epochs=1, keep=not first)

    def predict(self, X) -> np.ndarray:
        """``(n_samples,)``, or ``(n_samples, n_targets)`` when fitted on 2-D ``y``."""
        out = self._outputs(X)
        return out if self._y_2d else out[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
