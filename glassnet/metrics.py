"""Metrics: one value per model, shape ``(M,)``, from predictions and targets.

Every metric is called as ``metric(pred, y, loss)`` with ``pred`` of shape ``(M, B, ...)`` (the
network outputs, logits where the loss takes logits), ``y`` the targets as the loss prepared them
(``(B, ...)`` shared or ``(M, B, ...)`` per model; integer labels ``(B,)`` for the categorical
losses) and the :class:`~glassnet.losses.Loss`, which says how outputs are read (``from_logits``).

How a prediction becomes a class, everywhere below:

* several output columns: ``argmax`` (with ``encoding="k-1"``: class 0 when every output is below
  the threshold, else ``argmax + 1``, as :func:`glassnet.data.from_one_hot`); targets likewise, or
  the integer label itself;
* one output column: ``pred > threshold`` (default 0 for logits, 0.5 otherwise; the playground's
  tanh output with -1/+1 targets uses 0); targets ``y > threshold`` the same way.

Conventions follow scikit-learn and Keras where they agree: ``r2`` is the mean over output
columns of ``1 - SS_res / SS_tot`` (``uniform_average``); ``precision``/``recall``/``f1`` are
macro averages over the classes that occur in the targets or the predictions, a class with no
predicted (or no true) member counting 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

import numpy as np

from .errors import GlassnetError
from .registry import Registry

metrics: Registry[type["Metric"]] = Registry("metric")


class Metric:
    """Base class: ``__call__(pred, y, loss) -> (M,)``; ``higher_is_better`` says which way is good."""

    name = "metric"
    higher_is_better = True

    def __call__(self, pred, y, loss) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        opts = {k: v for k, v in self.config().items() if k != "name"}
        return self.name if not opts else f"{self.name}({', '.join(f'{k}={v!r}' for k, v in opts.items())})"


def _per_model_mean(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(a.shape[0], -1).mean(axis=1)


def _broadcast_targets(pred, y):
    """Targets with the model axis: ``(M, B, *output)`` like ``pred``, or labels ``(M, B)``.

    Shared targets ``(B, *output)`` and shared labels ``(B,)`` get the model axis by broadcasting.
    """
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) and y.shape == pred.shape[:2] and pred.shape[-1] > 1:
        return y                                               # per-model labels (M, B)
    if y.ndim == pred.ndim - 1 and y.shape[1:] == pred.shape[2:]:
        return np.broadcast_to(y, pred.shape[:1] + y.shape)   # shared targets
    if y.ndim == pred.ndim - 2:
        return np.broadcast_to(y, pred.shape[:1] + y.shape)   # shared labels
    return y


def _dense_targets(pred, y):
    """Targets shaped like ``pred``: integer labels become one-hot rows (for the metrics that
    compare outputs entry by entry)."""
    y = _broadcast_targets(pred, y)
    if y.ndim == pred.ndim - 1 and np.issubdtype(y.dtype, np.integer):
        y = (y[..., None] == np.arange(pred.shape[-1])).astype(np.float64)
    return np.asarray(y, dtype=np.float64)


class _ClassMetric(Metric):
    """Shared reading of outputs and targets as classes (see the module docstring)."""

    def __init__(self, threshold: float | None = None, encoding: str = "k"):
        if encoding not in ("k", "k-1"):
            raise GlassnetError(f"{self.name} encoding must be 'k' or 'k-1', got {encoding!r}",
                                field="encoding", value=encoding)
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not np.isfinite(threshold)):
            raise GlassnetError(f"{self.name} threshold must be a finite number, got {threshold!r}",
                                field="threshold", value=threshold)
        self.threshold, self.encoding = threshold, encoding

    def _threshold(self, loss) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return 0.0 if getattr(loss, "from_logits", False) else 0.5

    def classes(self, pred, y, loss):
        """``(guess, truth, n_classes)``: integer classes ``(M, B, ...)`` for predictions and targets."""
        t = self._threshold(loss)
        y = _broadcast_targets(pred, y)
        if pred.shape[-1] > 1:
            guess = self._decode(pred, 0.5 if self.encoding == "k-1" and self.threshold is None else t)
            if np.issubdtype(y.dtype, np.integer) and y.ndim == pred.ndim - 1:
                truth = y
            else:
                truth = self._decode(y, 0.5 if self.threshold is None else t)
            k = pred.shape[-1] + (1 if self.encoding == "k-1" else 0)
            return guess, truth, k
        guess = (pred[..., 0] > t).astype(np.int64)
        truth = (y[..., 0] > (t if self.threshold is not None else 0.5)).astype(np.int64) if y.ndim == pred.ndim \
            else (y > 0.5).astype(np.int64)
        return guess, truth, 2

    def _decode(self, a, threshold):
        best = a.argmax(axis=-1)
        if self.encoding == "k":
            return best
        return np.where(a.max(axis=-1) >= threshold, best + 1, 0)

    def config(self):
        out = {"name": self.name}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.encoding != "k":
            out["encoding"] = self.encoding
        return out


@metrics.register("accuracy", "acc")
class Accuracy(_ClassMetric):
    """Share of samples whose predicted class equals the target class (the 8-3-8 autoencoder is
    correct on a pattern when its argmax is)."""

    name = "accuracy"

    def __call__(self, pred, y, loss):
        guess, truth, _ = self.classes(pred, y, loss)
        return _per_model_mean(guess == truth)


@metrics.register("binary_accuracy")
class BinaryAccuracy(Metric):
    """Share of output entries on the right side of ``threshold`` (Keras ``binary_accuracy``):
    ``mean((pred > t) == (y > t))`` over every output entry (default t: 0 for logits, else 0.5)."""

    name = "binary_accuracy"

    def __init__(self, threshold: float | None = None):
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not np.isfinite(threshold)):
            raise GlassnetError(f"binary_accuracy threshold must be a finite number, got {threshold!r}",
                                field="threshold", value=threshold)
        self.threshold = threshold

    def __call__(self, pred, y, loss):
        t = self.threshold if self.threshold is not None else (0.0 if getattr(loss, "from_logits", False) else 0.5)
        y = _dense_targets(pred, y)
        return _per_model_mean((pred > t) == (y > (t if self.threshold is not None else 0.5)))

    def config(self):
        return {"name": self.name, **({"threshold": self.threshold} if self.threshold is not None else {})}


@metrics.register("top_k_accuracy", "top_k")
class TopKAccuracy(Metric):
    """Share of samples whose target class is among the ``k`` largest outputs (Keras
    ``top_k_categorical_accuracy``; ties broken by position)."""

    name = "top_k_accuracy"

    def __init__(self, k: int = 5):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise GlassnetError(f"top_k_accuracy k must be an integer >= 1, got {k!r}", field="k", value=k)
        self.k = int(k)

    def __call__(self, pred, y, loss):
        y = _broadcast_targets(pred, y)
        truth = y if (np.issubdtype(y.dtype, np.integer) and y.ndim == pred.ndim - 1) else y.argmax(axis=-1)
        k = min(self.k, pred.shape[-1])
        top = np.argpartition(-pred, k - 1, axis=-1)[..., :k]
        return _per_model_mean((top == truth[..., None]).any(axis=-1))

    def config(self):
        return {"name": self.name, "k": self.k}


class _RegressionMetric(Metric):
    higher_is_better = False

    @staticmethod
    def residual(pred, y):
        return np.asarray(pred, dtype=np.float64) - _dense_targets(pred, y)


@metrics.register("mae", "mean_absolute_error")
class MAE(_RegressionMetric):
    """mean |pred - y| over samples and outputs."""

    name = "mae"

    def __call__(self, pred, y, loss):
        return _per_model_mean(np.abs(self.residual(pred, y)))


@metrics.register("mse", "mean_squared_error")
class MSE(_RegressionMetric):
    """mean (pred - y)^2 over samples and outputs (the metric; the loss ``mse`` is the same number)."""

    name = "mse"

    def __call__(self, pred, y, loss):
        r = self.residual(pred, y)
        return _per_model_mean(r * r)


@metrics.register("r2", "r2_score")
class R2(Metric):
    """Coefficient of determination, per output column ``1 - sum (y - pred)^2 / sum (y - mean y)^2``,
    averaged over columns (scikit-learn ``r2_score``, ``uniform_average``; a constant target
    column scores 1 if predicted exactly, else 0, as scikit-learn does)."""

    name = "r2"

    def __call__(self, pred, y, loss):
        pred = np.asarray(pred, dtype=np.float64)
        y = _dense_targets(pred, y)
        M, B = pred.shape[:2]
        p, t = pred.reshape(M, B, -1), y.reshape(M, B, -1)
        ss_res = ((t - p) ** 2).sum(axis=1)
        ss_tot = ((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                          np.where(ss_res == 0, 1.0, 0.0))
        return r2.mean(axis=1)


class _MacroMetric(_ClassMetric):
    """Per-class counts from the classes of :class:`_ClassMetric`, macro-averaged."""

    def counts(self, pred, y, loss):
        guess, truth, k = self.classes(pred, y, loss)
        M = guess.shape[0]
        g = guess.reshape(M, -1)
        t = truth.reshape(M, -1)
        classes = np.arange(k)
        G = g[..., None] == classes        # (M, N, k)
        T = t[..., None] == classes
        tp = (G & T).sum(axis=1).astype(np.float64)
        return tp, G.sum(axis=1).astype(np.float64), T.sum(axis=1).astype(np.float64)

    @staticmethod
    def macro(per_class, present):
        return (per_class * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    @staticmethod
    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


@metrics.register("precision", "precision_macro")
class Precision(_MacroMetric):
    """Macro precision: mean over classes of TP / (TP + FP)."""

    name = "precision"

    def __call__(self, pred, y, loss):
        tp, predicted, true = self.counts(pred, y, loss)
        return self.macro(self.ratio(tp, predicted), (predicted + true) > 0)


@metrics.register("recall", "recall_macro")
class Recall(_MacroMetric):
    """Macro recall: mean over classes of TP / (TP + FN)."""

    name = "recall"

    def __call__(self, pred, y, loss):
        tp, predicted, true = self.counts(pred, y, loss)
        return self.macro(self.ratio(tp, true), (predicted + true) > 0)


@metrics.register("f1", "f1_macro")
class F1(_MacroMetric):
    """Macro F1: mean over classes of 2 TP / (2 TP + FP + FN)."""

    name = "f1"

    def __call__(self, pred, y, loss):
        tp, predicted, true = self.counts(pred, y, loss)
        return self.macro(self.ratio(2 * tp, predicted + true), (predicted + true) > 0)


def get(spec) -> Metric:
    """A metric from a name (``"accuracy"``), an options dict (``{"name": "top_k_accuracy", "k": 3}``)
    or a :class:`Metric`."""
    if isinstance(spec, Metric):
        return spec
    return metrics.create(spec)


def resolve(specs, loss) -> dict[str, Metric]:
    """The metrics to log, by the key they are logged under: ``specs`` as given (``None``: the
    default, accuracy for classification losses). Duplicate keys are refused."""
    if specs is None:
        specs = ["accuracy"] if loss.task != "regression" else []
    if isinstance(specs, (str, dict, Metric)):
        raise GlassnetError(f"metrics must be a list of metric names, got {specs!r}", field="metrics", value=specs)
    out: dict[str, Metric] = {}
    for spec in specs:
        metric = get(spec)
        if metric.name in out or metric.name in ("loss", "data_loss", "penalty"):
            raise GlassnetError(f"metric {metric.name!r} is given twice (or clashes with a loss curve)",
                                field="metrics", value=list(specs))
        out[metric.name] = metric
    return out
