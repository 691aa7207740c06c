"""Losses: a value per model and the gradient with respect to the network output.

Every loss takes predictions ``pred`` of shape ``(M, B, ...)`` and targets ``y`` of shape
``(B, ...)`` (shared by all models) or ``(M, B, ...)``, and returns the **mean over the batch**
per model, shape ``(M,)``. ``grad`` returns dL/dpred of that mean, shape of ``pred``.
The convention of each loss (what is summed, what is averaged) is in its docstring.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid
from .backend import as_array
from .errors import GlassnetError
from .registry import Registry

losses: Registry[type["Loss"]] = Registry("loss")


class Loss:
    name = "loss"
    #: "regression", "binary" or "multiclass": how accuracy reads predictions
    task = "regression"
    #: True when the loss expects raw scores (logits) rather than probabilities
    from_logits = False

    def value(self, pred, y) -> np.ndarray:
        raise NotImplementedError

    def grad(self, pred, y):
        raise NotImplementedError

    def value_and_grad(self, pred, y):
        return self.value(pred, y), self.grad(pred, y)

    def sample_values(self, pred, y) -> np.ndarray:
        """The loss of each sample, ``(M, B)``: ``value`` is its mean over the batch (sample
        weights scale these terms, as Keras' ``sample_weight`` does)."""
        raise NotImplementedError

    def prepare_targets(self, y, output_shape) -> np.ndarray:
        """Validate targets against the model's per-sample output shape; ``(B,)`` is read as
        ``(B, 1)`` for a single output."""
        y = as_array(y, "y")
        output_shape = tuple(output_shape)
        if y.ndim == 1 and output_shape == (1,):
            y = y[:, None]
        if not np.issubdtype(y.dtype, np.number) or y.shape[-len(output_shape):] != output_shape:
            raise GlassnetError(
                f"y has shape {y.shape} and dtype {y.dtype}, but loss {self.name!r} needs numbers "
                f"of shape (batch, {', '.join(map(str, output_shape))}) for this model"
            )
        return y

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        return self.name


def _sum_per_model(x) -> np.ndarray:
    """Sum over every axis but the model axis."""
    return x.reshape(x.shape[0], -1).sum(axis=1)


def _sum_per_sample(x) -> np.ndarray:
    """Sum over every axis but the model and batch axes: ``(M, B)``."""
    return x.reshape(x.shape[0], x.shape[1], -1).sum(axis=2)


@losses.register("half_sse", "half_sum_squared_error", "half_se", "half_squared_error")
class HalfSSE(Loss):
    """L = 1/B sum_i 1/2 ||yhat_i - y_i||^2: half the sum of squared errors of each sample,
    averaged over the batch (seed 003's J without the penalty; seed 001's 1/2 (y - yhat)^2).
    dL/dyhat = (yhat - y)/B."""

    name = "half_sse"

    def value(self, pred, y):
        d = pred - y
        return 0.5 * _sum_per_model(d * d) / pred.shape[1]

    def grad(self, pred, y):
        return (pred - y) * (1.0 / pred.shape[1])

    def value_and_grad(self, pred, y):
        d = pred - y
        B = pred.shape[1]
        return 0.5 * _sum_per_model(d * d) / B, d * (1.0 / B)

    def sample_values(self, pred, y):
        d = pred - y
        return 0.5 * _sum_per_sample(d * d)


@losses.register("mse", "mean_squared_error")
class MSE(Loss):
    """L = 1/(B*K) sum_i sum_k (yhat_ik - y_ik)^2: the mean over every element, as PyTorch's
    ``MSELoss`` and Keras' ``mse``. dL/dyhat = 2 (yhat - y)/(B*K)."""

    name = "mse"

    def value(self, pred, y):
        d = pred - y
        return _sum_per_model(d * d) / (d[0].size)

    def grad(self, pred, y):
        return (pred - y) * (2.0 / pred[0].size)

    def value_and_grad(self, pred, y):
        d = pred - y
        n = d[0].size
        return _sum_per_model(d * d) / n, d * (2.0 / n)

    def sample_values(self, pred, y):
        d = pred - y
        return _sum_per_sample(d * d) / (d[0, 0].size)


@losses.register("binary_cross_entropy", "bce")
class BinaryCrossEntropy(Loss):
    """On probabilities p in (0, 1), the mean over every element (B samples x K outputs), as
    PyTorch's ``BCELoss`` and Keras' ``binary_crossentropy``:
    L = -1/(B*K) sum_i sum_k [y log p + (1 - y) log(1 - p)];  dL/dp = (p - y)/(p(1 - p))/(B*K).
    Probabilities are clipped to [eps, 1 - eps] (eps 1e-12), as PyTorch clamps the log at -100;
    prefer ``binary_cross_entropy_logits`` for stability."""

    name = "binary_cross_entropy"
    task = "binary"
    eps = 1e-12

    def _terms(self, pred, y):
        p = np.clip(pred, self.eps, 1 - self.eps)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))

    def value(self, pred, y):
        return _sum_per_model(self._terms(pred, y)) / pred[0].size

    def sample_values(self, pred, y):
        return _sum_per_sample(self._terms(pred, y)) / pred[0, 0].size

    def grad(self, pred, y):
        p = np.clip(pred, self.eps, 1 - self.eps)
        return (p - y) / (p * (1 - p)) / pred[0].size


@losses.register("binary_cross_entropy_logits", "bce_logits", "sigmoid_cross_entropy")
class BinaryCrossEntropyLogits(Loss):
    """Sigmoid and binary cross-entropy fused, on logits z, the mean over every element (B x K),
    as PyTorch's ``BCEWithLogitsLoss`` and Keras' ``binary_crossentropy(from_logits=True)``:
    L = 1/(B*K) sum_i sum_k [max(z, 0) - z*y + log(1 + exp(-|z|))]; dL/dz = (sigmoid(z) - y)/(B*K)."""

    name = "binary_cross_entropy_logits"
    task = "binary"
    from_logits = True

    @staticmethod
    def _terms(z, y):
        return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))

    def value(self, pred, y):
        return _sum_per_model(self._terms(pred, y)) / pred[0].size

    def sample_values(self, pred, y):
        return _sum_per_sample(self._terms(pred, y)) / pred[0, 0].size

    def grad(self, pred, y):
        return (sigmoid(pred) - y) / pred[0].size


class _CategoricalTargets:
    """Shared target handling: integer labels (B,) or one-hot/probability rows (B, K)."""

    def prepare_targets(self, y, output_shape):
        y = as_array(y, "y")
        K = output_shape[-1]
        if y.ndim >= 1 and y.shape[-1:] == (K,) and np.issubdtype(y.dtype, np.floating) and y.ndim >= 2:
            return y
        if np.issubdtype(y.dtype, np.floating) and y.ndim >= 2 and np.all((y == 0) | (y == 1)) \
                and np.all(y.sum(-1) == 1):  # one-hot rows of the wrong width, not labels
            raise GlassnetError(f"y has one-hot rows of {y.shape[-1]} columns but the model has {K} "
                                f"outputs (loss {self.name!r})")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)
            else:
                raise GlassnetError(
                    f"y must be integer class labels in [0, {K}) or one-hot rows of {K} columns for "
                    f"loss {self.name!r}; got an array of shape {y.shape} and dtype {y.dtype}"
                )
        if y.ndim >= 2 and y.shape[-1] == 1 and K > 1:
            raise GlassnetError(
                f"y has shape {y.shape}: integer class labels for loss {self.name!r} must be one per "
                f"sample, shape (batch,); flatten them (y.ravel()) or give one-hot rows of {K} columns",
                field="y")
        if y.size and (y.min() < 0 or y.max() >= K):
            raise GlassnetError(
                f"y labels must be in [0, {K}) for a model with {K} outputs; got values from "
                f"{y.min()} to {y.max()}"
            )
        return y

    @staticmethod
    def one_hot_like(pred, y):
        if np.issubdtype(y.dtype, np.integer):
            out = np.zeros(np.broadcast_shapes(pred.shape[:-1], y.shape) + pred.shape[-1:], pred.dtype)
            np.put_along_axis(out, np.broadcast_to(y, out.shape[:-1])[..., None], 1, axis=-1)
            return out
        return y


@losses.register("softmax_cross_entropy", "cross_entropy_logits", "sparse_categorical_crossentropy_logits")
class SoftmaxCrossEntropy(_CategoricalTargets, Loss):
    """Softmax and cross-entropy fused, on logits z (``(M, B, K)``):
    L = -1/B sum_i log softmax(z_i)[y_i]; dL/dz = (softmax(z) - onehot(y))/B.
    Labels are integers ``(B,)`` or one-hot/probability rows ``(B, K)``. This is PyTorch's
    ``F.cross_entropy`` and Keras' crossentropy with ``from_logits=True``."""

    name = "softmax_cross_entropy"
    task = "multiclass"
    from_logits = True

    def value(self, pred, y):
        return self.value_and_grad(pred, y)[0]

    def grad(self, pred, y):
        return self.value_and_grad(pred, y)[1]

    def sample_values(self, pred, y):
        shifted = pred - pred.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        if np.issubdtype(y.dtype, np.integer):
            idx = np.broadcast_to(y, pred.shape[:-1])[..., None]
            return -np.take_along_axis(logp, idx, axis=-1)[..., 0]
        return -(y * logp).sum(axis=-1)

    def value_and_grad(self, pred, y):
        shifted = pred - pred.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=-1, keepdims=True)
        logp = shifted - np.log(s)
        p = e / s
        B = pred.shape[1]
        if np.issubdtype(y.dtype, np.integer):
            idx = np.broadcast_to(y, pred.shape[:-1])[..., None]
            picked = np.take_along_axis(logp, idx, axis=-1)
            value = -_sum_per_model(picked) / B
            grad = p
            np.put_along_axis(grad, idx, np.take_along_axis(p, idx, axis=-1) - 1, axis=-1)
            grad *= 1.0 / B
        else:
            value = -_sum_per_model(y * logp) / B
            grad = (p - y) * (1.0 / B)
        return value, grad


@losses.register("cross_entropy", "categorical_crossentropy")
class CrossEntropy(_CategoricalTargets, Loss):
    """Cross-entropy on probabilities p (after a softmax layer): L = -1/B sum_i sum_k y_ik log p_ik,
    dL/dp = -y/p/B. Probabilities are clipped at 1e-12 (seed 004: -log 0.989 = 0.011)."""

    name = "cross_entropy"
    task = "multiclass"
    eps = 1e-12

    def value(self, pred, y):
        y1 = self.one_hot_like(pred, y)
        return -_sum_per_model(y1 * np.log(np.clip(pred, self.eps, None))) / pred.shape[1]

    def sample_values(self, pred, y):
        y1 = self.one_hot_like(pred, y)
        return -(y1 * np.log(np.clip(pred, self.eps, None))).sum(axis=-1)

    def grad(self, pred, y):
        y1 = self.one_hot_like(pred, y)
        return -y1 / np.clip(pred, self.eps, None) / pred.shape[1]


def get(spec) -> Loss:
    """A loss from a name, a ``{"name": ...}`` dict, or a :class:`Loss` instance."""
    if isinstance(spec, Loss):
        return spec
    return losses.create(spec)


class MultiLoss(Loss):
    """The loss of a model with several outputs: ``L = sum_k w_k L_k(pred_k, y_k)`` (Keras'
    ``loss_weights``); predictions, targets and gradients are lists in output order, and
    ``dL/dpred_k = w_k dL_k/dpred_k``. ``parts`` gives each output's own loss for the logs."""

    name = "multi"

    def __init__(self, losses_, weights=None, names=None):
        self.losses = [get(l) for l in losses_]
        k = len(self.losses)
        weights = [1.0] * k if weights is None else list(weights)
        if len(weights) != k or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and np.isfinite(w)
                                        and w >= 0 for w in weights):
            raise GlassnetError(f"loss_weights must be {k} finite numbers >= 0 (one per output), got {weights!r}",
                                field="loss_weights", value=weights)
        self.weights = [float(w) for w in weights]
        self.names = list(names) if names is not None else [f"output_{i}" for i in range(k)]
        self.task = "regression"  # no default metric: each output's loss is logged instead

    def prepare_targets(self, y, output_shape):
        if not isinstance(y, (list, tuple)) or len(y) != len(self.losses):
            raise GlassnetError(f"y must be a list of {len(self.losses)} target arrays (one per output: "
                                f"{', '.join(self.names)})", field="y")
        return [l.prepare_targets(t, s) for l, t, s in zip(self.losses, y, output_shape)]

    def value(self, pred, y):
        return sum(w * l.value(p, t) for l, w, p, t in zip(self.losses, self.weights, pred, y))

    def grad(self, pred, y):
        return [l.grad(p, t) * w for l, w, p, t in zip(self.losses, self.weights, pred, y)]

    def value_and_grad(self, pred, y):
        value, grads = 0.0, []
        for l, w, p, t in zip(self.losses, self.weights, pred, y):
            v, g = l.value_and_grad(p, t)
            value = value + w * v
            grads.append(g * w)
        return value, grads

    def sample_values(self, pred, y):
        return sum(w * l.sample_values(p, t) for l, w, p, t in zip(self.losses, self.weights, pred, y))

    def parts(self, pred, y) -> dict:
        """Each output's own (unweighted) loss, ``{"<output>_loss": (M,)}``."""
        return {f"{n}_loss": l.value(p, t) for n, l, p, t in zip(self.names, self.losses, pred, y)}

    def config(self):
        return {"name": self.name, "losses": [l.config() for l in self.losses], "weights": self.weights}

    def __repr__(self):
        return f"MultiLoss({[l.name for l in self.losses]}, weights={self.weights})"


def for_outputs(loss, loss_weights, names) -> Loss:
    """The loss of a model with outputs ``names``: one loss (or its name) for every output, a
    list in output order, or a dict by output name; weighted by ``loss_weights`` (list or dict)."""
    k = len(names)
    if isinstance(loss, dict):
        unknown = sorted(set(loss) - set(names))
        if unknown or len(loss) != k:
            raise GlassnetError(f"loss must name every output ({', '.join(names)}), got keys {sorted(loss)}",
                                field="loss", value=loss)
        loss = [loss[n] for n in names]
    elif not isinstance(loss, (list, tuple)):
        loss = [loss] * k
    if len(loss) != k:
        raise GlassnetError(f"loss must be one loss or {k} (one per output), got {len(loss)}", field="loss")
    if isinstance(loss_weights, dict):
        loss_weights = [loss_weights.get(n, 1.0) for n in names]
    return MultiLoss(loss, loss_weights, names)
