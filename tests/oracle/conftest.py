"""PyTorch twins of glassnet networks, for the oracle tests (float64 throughout).

A twin of model ``m`` of a glassnet Sequential holds torch tensors initialised from that model's
weights (a Dense kernel ``W`` is ``(in, out)`` here and ``(out, in)`` in ``torch.nn.Linear``) and
computes the same function with torch's own modules and functional ops; autograd then gives the
reference gradients. Dropout reuses the mask glassnet drew (random masks cannot be matched, the
arithmetic around them can). Losses follow glassnet's documented conventions (mean over the batch;
sum over outputs for half_sse and the binary cross-entropies), written with torch's functions.

Torch is optional: without it the ``twin`` fixture skips, and the test modules skip themselves
with ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import PReLU

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - CI installs torch
    torch = None
    nn = SimpleNamespace(Module=object)  # lets the classes below be defined; nothing uses them


def _activation(cfg: dict):
    """The torch module for a glassnet activation config ``{"name": ..., **options}``."""
    name = cfg["name"]
    table = {
        "identity": lambda: nn.Identity(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(cfg["alpha"]),
        "elu": lambda: nn.ELU(cfg["alpha"]),
        "selu": lambda: nn.SELU(),
        "tanh": lambda: nn.Tanh(),
        "sigmoid": lambda: nn.Sigmoid(),
        "softplus": lambda: nn.Softplus(),
        "gelu": lambda: nn.GELU(approximate=cfg["approximate"]),
        "swish": lambda: nn.SiLU(),
        "softmax": lambda: nn.Softmax(dim=-1),
    }
    if name not in table:
        pytest.fail(f"no torch twin for activation {name!r}: add one to tests/oracle/conftest.py")
    return table[name]()


ACTIVATION_TWINS = {"identity", "relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "softplus", "gelu",
                    "swish", "softmax"}


def torch_loss(name: str, pred, y):
    """Glassnet's loss ``name`` in torch; ``y`` is a float tensor, or a long tensor of labels."""
    B = pred.shape[0]
    if name == "half_sse":
        return 0.5 * ((pred - y) ** 2).sum() / B
    if name == "mse":
        return F.mse_loss(pred, y)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(pred, y)  # the mean over every element
    if name == "binary_cross_entropy_logits":
        return F.binary_cross_entropy_with_logits(pred, y)
    if name == "softmax_cross_entropy":
        return F.cross_entropy(pred, y)  # labels or class probabilities
    if name == "cross_entropy":
        if y.dtype == torch.long:
            return F.nll_loss(torch.log(pred), y)
        return -(y * torch.log(pred)).sum() / B
    pytest.fail(f"no torch twin for loss {name!r}: add one to tests/oracle/conftest.py")


LOSS_TWINS = {"half_sse", "mse", "binary_cross_entropy", "binary_cross_entropy_logits", "softmax_cross_entropy",
              "cross_entropy"}
#: layers whose PyTorch oracle tests live beside them in tests/layers (weights copied into
#: nn.LSTM, nn.MultiheadAttention, ...), not in this chain-of-layers twin
SEQUENCE_ORACLES = {"conv1d", "simple_rnn", "lstm", "gru", "multi_head_attention", "layernorm", "embedding",
                    "positional_embedding"}
LAYER_TWINS = {"dense", "activation", "prelu", "dropout", "batchnorm", "flatten", "conv2d", "max_pool2d",
               "avg_pool2d", "global_average_pooling2d"}


def _same_pads(size, k, s):
    """TensorFlow's "same" padding (before, after) along one axis, worked out here independently."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pads(layer, k, s):
    """F.pad's (left, right, top, bottom) for a conv/pool layer on ``layer.input_shape``."""
    H, W = layer.input_shape[:2]
    padding = layer.padding
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pads(H, k[0], s[0]), _same_pads(W, k[1], s[1])
        return (pl, pr, pt, pb)
    ph, pw = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    return (pw, pw, ph, ph)


class _Pool(nn.Module):
    """Max or average pooling of channels-last images with TensorFlow's padding rules; the average
    counts real elements only (padding is excluded)."""

    def __init__(self, layer):
        super().__init__()
        self.k, self.s = tuple(layer.pool_size), tuple(layer.strides)
        self.pads, self.max = _pads(layer, self.k, self.s), layer.kind == "max_pool2d"

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        if self.max:
            y = F.max_pool2d(F.pad(x, self.pads, value=-float("inf")), self.k, self.s)
        else:
            total = F.avg_pool2d(F.pad(x, self.pads), self.k, self.s)
            count = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), self.pads), self.k, self.s)
            y = total / count
        return y.permute(0, 2, 3, 1)


class _Conv(nn.Module):
    """Channels-last conv: F.pad then torch.nn.Conv2d (kernel (kh, kw, C, F) -> (F, C, kh, kw))."""

    def __init__(self, layer, m):
        super().__init__()
        kh, kw, C, Fo = layer.W.value.shape[1:]
        self.conv = nn.Conv2d(C, Fo, (kh, kw), stride=tuple(layer.strides), bias=layer.use_bias)
        self.pads = _pads(layer, (kh, kw), tuple(layer.strides))
        with torch.no_grad():
            self.conv.weight.copy_(_t(layer.W.value[m].transpose(3, 2, 0, 1)))
            if layer.use_bias:
                self.conv.bias.copy_(_t(layer.b.value[m]))

    def forward(self, x):
        return self.conv(F.pad(x.permute(0, 3, 1, 2), self.pads)).permute(0, 2, 3, 1)


def _t(a):
    return torch.tensor(np.array(a, dtype=np.float64))


class _ChannelsLast(nn.Module):
    """Apply a channels-first torch module (BatchNorm2d, PReLU) to channels-last images."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if x.ndim == 2:
            return self.inner(x)
        perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        back = (0,) + tuple(range(2, x.ndim)) + (1,)
        return self.inner(x.permute(*perm)).permute(*back)


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _Mask(nn.Module):
    """Dropout with glassnet's mask for model ``m`` (read at call time, after glassnet's forward)."""

    def __init__(self, layer, m):
        super().__init__()
        self.layer, self.m = layer, m

    def forward(self, x):
        mask = self.layer._scale_mask
        return x if (not self.training or mask is None) else x * _t(mask[self.m])


class TorchTwin(nn.Module):
    """Model ``m`` of a built glassnet Sequential, as a torch module with copied weights.

    ``self.links`` lists ``(glassnet Param, torch tensor, to_glassnet)`` where ``to_glassnet`` maps
    the torch tensor (or its gradient) to glassnet's layout for that one model.
    """

    def __init__(self, model, m: int):
        super().__init__()
        self.model, self.m = model, m
        self.links = []
        self.steps = nn.ModuleList()
        self.batchnorms = []  # (glassnet layer, torch module)
        for layer in model.layers:
            self.steps.append(self._twin(layer))

    def _link(self, param, tensor, to_glassnet=lambda a: a):
        self.links.append((param, tensor, to_glassnet))

    def _prelu(self, layer):
        mod = nn.PReLU(num_parameters=layer.alpha.value.shape[-1])
        with torch.no_grad():
            mod.weight.copy_(_t(layer.alpha.value[self.m]))
        self._link(layer.alpha, mod.weight)
        return _ChannelsLast(mod)

    def _act(self, act_layer):
        if isinstance(act_layer, PReLU):
            return self._prelu(act_layer)
        return _activation(act_layer.fn.config())

    def _twin(self, layer):
        m = self.m
        kind = layer.kind
        if kind == "dense":
            lin = nn.Linear(layer.W.value.shape[1], layer.units, bias=layer.use_bias)
            with torch.no_grad():
                lin.weight.copy_(_t(layer.W.value[m].T))
                if layer.use_bias:
                    lin.bias.copy_(_t(layer.b.value[m]))
            self._link(layer.W, lin.weight, lambda a: a.T)
            if layer.use_bias:
                self._link(layer.b, lin.bias)
            return nn.Sequential(lin, self._act(layer.act))
        if kind == "activation":
            return _activation(layer.fn.config())
        if kind == "prelu":
            return self._prelu(layer)
        if kind == "dropout":
            return _Mask(layer, m)
        if kind == "batchnorm":
            C = layer.gamma.value.shape[-1]
            cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}[len(layer.input_shape)]
            bn = cls(C, eps=layer.eps, momentum=layer.momentum)
            with torch.no_grad():
                bn.weight.copy_(_t(layer.gamma.value[m]))
                bn.bias.copy_(_t(layer.beta.value[m]))
                bn.running_mean.copy_(_t(layer.buffers["running_mean"][m]))
                bn.running_var.copy_(_t(layer.buffers["running_var"][m]))
            self._link(layer.gamma, bn.weight)
            self._link(layer.beta, bn.bias)
            self.batchnorms.append((layer, bn))
            return _ChannelsLast(bn)
        if kind == "flatten":
            return nn.Flatten()
        if kind == "conv2d":
            conv = _Conv(layer, m)
            self._link(layer.W, conv.conv.weight, lambda a: a.transpose(2, 3, 1, 0))
            if layer.use_bias:
                self._link(layer.b, conv.conv.bias)
            return nn.Sequential(conv, self._act(layer.act))
        if kind in ("max_pool2d", "avg_pool2d"):
            return _Pool(layer)
        if kind == "global_average_pooling2d":
            return _Lambda(lambda x: x.mean(dim=(1, 2)))
        if kind in SEQUENCE_ORACLES:
            pytest.skip(f"{kind}: compared with its PyTorch module in tests/layers")
        pytest.skip(f"no torch twin for layer {kind!r} (add one to tests/oracle/conftest.py to cover it)")

    def forward(self, x):
        for step in self.steps:
            x = step(x)
        return x

    def tensors(self):
        return [t for _, t, _ in self.links]

    def param_groups(self, weight_decay):
        """torch.optim groups: glassnet's ``regularize`` params (weights) get weight_decay, others 0."""
        decayed = [t for p, t, _ in self.links if p.regularize]
        plain = [t for p, t, _ in self.links if not p.regularize]
        return [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def assert_close(actual, reference, rtol, what="", scale=None):
    """Elementwise relative agreement ``rtol``, with an absolute floor of ``rtol * 1e-4 * scale``
    (``scale``: the size of the quantities compared, by default the largest reference entry).
    Entries that cancel to ~1e-17 (a bias just before batch norm has zero gradient) carry only
    rounding noise and no meaningful relative error."""
    reference = np.asarray(reference, dtype=np.float64)
    if scale is None:
        scale = float(np.abs(reference).max(initial=0.0))
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * 1e-4 * scale + 1e-300, err_msg=what)


@pytest.fixture(autouse=True)
def _torch_float64():
    """float64 for every oracle test; one thread, because these tensors are tiny and torch's thread
    pool on a busy 2-core machine is ~15x slower than a single thread here."""
    if torch is None:
        yield
        return
    before, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(before)
    torch.set_num_threads(threads)


@pytest.fixture
def twin():
    """Helpers for the oracle tests (skips when torch is missing)."""
    if torch is None:
        pytest.skip("torch is not installed")
    return SimpleNamespace(TorchTwin=TorchTwin, loss=torch_loss, assert_close=assert_close, tensor=_t,
                           ACTIVATIONS=ACTIVATION_TWINS, LOSSES=LOSS_TWINS, LAYERS=LAYER_TWINS, gn=gn)
