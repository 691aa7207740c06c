"""Multi-head scaled dot-product attention, on the model axis, with its weights kept for inspection."""

from __future__ import annotations

import math

import numpy as np

from .. import initializers as inits
from .. import regularizers as regs
from ..activations import softmax
from ..errors import GlassnetError
from .base import BuildContext, Layer, check_int, layer_types


def _linear(x, W, b):
    """``x @ W^T + b`` for x ``(L, B, T, in)`` (L = M, or 1 if shared), W ``(M, out, in)``, b ``(M, out)``."""
    y = x @ W[:, None].swapaxes(-1, -2)
    return y if b is None else y + b[:, None, None, :]


@layer_types.register("multi_head_attention", "multihead_attention", "mha")
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762):

        Q = x Wq^T + bq,  K = s Wk^T + bk,  V = s Wv^T + bv      (s = x: self-attention)
        split into heads: Q_h (T, dk), K_h (S, dk), V_h (S, dv)
        A_h = softmax(Q_h K_h^T / sqrt(dk) + mask)                (T, S); each row sums to 1
        O = concat_h(A_h V_h) Wo^T + bo

    ``mask`` is 0, or -inf above the diagonal with ``causal=True`` (step t attends to steps <= t).

    Shapes: x ``(M, B, T, D)`` or shared ``(B, T, D)``; output ``(M, B, T, output_dim or D)``.
    ``layer.attention_weights`` keeps A ``(M, B, heads, T, S)`` from the latest forward pass.
    Cross-attention: ``forward(x, train, kv=s)`` with s ``(M, B, S, kv_dim)`` or ``(B, S, kv_dim)``
    (``kv_dim`` defaults to D); after backward ``layer.kv_grad`` holds dL/ds and the returned dx is
    dL/dx through the queries only.

    Parameters in PyTorch's ``nn.Linear`` layout ``(out, in)``: ``q_proj_weight`` ``(M, h*dk, D)``,
    ``k_proj_weight`` ``(M, h*dk, kv_dim)``, ``v_proj_weight`` ``(M, h*dv, kv_dim)``,
    ``out_proj_weight`` ``(M, output_dim, h*dv)`` and their biases. With ``D == h*dk == h*dv`` the
    layer is ``torch.nn.MultiheadAttention(D, h, batch_first=True)`` with
    ``in_proj_weight = concat(q, k, v)`` (PyTorch's numerics; no dropout on the weights here).
    Initializers: Glorot uniform weights per projection (fan_in = in, fan_out = out) and zero
    biases, unless the model or the layer says otherwise.

    Backward, per head, with dO the gradient of the concatenated head outputs (dy Wo):
    dV = A^T dO; dA = dO V^T; dScores = A * (dA - rowsum(dA * A)) (softmax; masked entries have
    A = 0 and get nothing); dQ = dScores K / sqrt(dk); dK = dScores^T Q / sqrt(dk); then each
    projection like a Dense layer: dW = dZ^T input, db = sum dZ, d(input) = dZ W.
    """

    kind = "multi_head_attention"
    accepts_shared_input = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, output_dim: int | None = None,
                 causal: bool = False, use_bias: bool = True, kv_dim: int | None = None, kernel_init=None,
                 bias_init=None, kernel_regularizer=None, name: str | None = None):
        super().__init__(name)
        self.num_heads = check_int(num_heads, "MultiHeadAttention num_heads")
        self.key_dim = check_int(key_dim, "MultiHeadAttention key_dim")
        self.value_dim = None if value_dim is None else check_int(value_dim, "MultiHeadAttention value_dim")
        self.output_dim = None if output_dim is None else check_int(output_dim, "MultiHeadAttention output_dim")
        self.kv_dim = None if kv_dim is None else check_int(kv_dim, "MultiHeadAttention kv_dim")
        self.causal = bool(causal)
        self.use_bias = bool(use_bias)
        self.kernel_init = None if kernel_init is None else inits.get(kernel_init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.attention_weights = None
        self.kv_grad = None
        self._cache = None

    # -- construction ---------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise GlassnetError(f"MultiHeadAttention expects sequences (steps, features), got per-sample shape "
                                f"{tuple(input_shape)}")
        return (input_shape[0], self.output_dim or input_shape[1])

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        D = input_shape[-1]
        h, dk = self.num_heads, self.key_dim
        dv = self.value_dim or dk
        Dkv, Do = self.kv_dim or D, self.output_dim or D
        kinit = self.kernel_init or ctx.kernel_init or inits.GlorotUniform()
        binit = self.bias_init or ctx.bias_init or inits.Zeros()
        for short, out, n_in in (("q_proj", h * dk, D), ("k_proj", h * dk, Dkv), ("v_proj", h * dv, Dkv),
                                 ("out_proj", Do, h * dv)):
            self.add_param(f"{short}_weight", ctx.draw(kinit, (out, n_in), n_in, out), regularize=True,
                           regularizer=self.kernel_regularizer)
            if self.use_bias:
                self.add_param(f"{short}_bias", ctx.draw(binit, (out,), n_in, out), regularize=False)
        return self.output_shape

    def _wb(self, short):
        p = self.params
        return p[f"{short}_weight"].value, (p[f"{short}_bias"].value if self.use_bias else None)

    # -- computation ----------------------------------------------------------------------------
    def forward(self, x, train, kv=None):
        xq = x[None] if x.ndim == 3 else x
        if kv is None:
            src = xq
        else:
            src = np.asarray(kv, xq.dtype)
            src = src[None] if src.ndim == 3 else src
            if src.ndim != 4 or src.shape[1] != xq.shape[1] or src.shape[-1] != (self.kv_dim or self.input_shape[-1]):
                raise GlassnetError(f"MultiHeadAttention kv has shape {np.shape(kv)}; expected (batch={xq.shape[1]}, "
                                    f"steps, {self.kv_dim or self.input_shape[-1]}) or with a leading model axis")
        h, dk = self.num_heads, self.key_dim
        dv = self.value_dim or dk
        M = self.params["q_proj_weight"].value.shape[0]
        B, T, S = xq.shape[1], xq.shape[2], src.shape[2]

        def heads(z, d):  # (M, B, n, h*d) -> (M, B, h, n, d)
            return z.reshape(M, B, -1, h, d).transpose(0, 1, 3, 2, 4)

        q = heads(_linear(xq, *self._wb("q_proj")), dk)
        k = heads(_linear(src, *self._wb("k_proj")), dk)
        v = heads(_linear(src, *self._wb("v_proj")), dv)
        scores = (q @ k.swapaxes(-1, -2)) / math.sqrt(dk)  # (M, B, h, T, S)
        if self.causal:
            scores = np.where(np.tri(T, S, dtype=bool), scores, -np.inf)
        A = softmax(scores, axis=-1)
        o = (A @ v).transpose(0, 1, 3, 2, 4).reshape(M, B, T, h * dv)  # heads side by side
        self.attention_weights = A
        self._cache = (xq, src, q, k, v, A, o, kv is not None)
        return _linear(o, *self._wb("out_proj"))

    def backward(self, dy):
        xq, src, q, k, v, A, o, cross = self._cache
        M, B, T, Do = dy.shape
        h, dk = self.num_heads, self.key_dim
        dv = self.value_dim or dk
        p = self.params

        def merge(z):  # (M, B, h, n, d) -> (M, B, n, h*d)
            return z.transpose(0, 1, 3, 2, 4).reshape(M, B, z.shape[3], -1)

        def project_back(short, dz, inp):
            """Gradients of ``z = inp W^T + b``: fills dW, db; returns d(inp) = dz W."""
            dzf = dz.reshape(M, -1, dz.shape[-1])
            p[f"{short}_weight"].grad = dzf.swapaxes(-1, -2) @ inp.reshape(inp.shape[0], -1, inp.shape[-1])
            if self.use_bias:
                p[f"{short}_bias"].grad = dzf.sum(axis=1)
            return dz @ p[f"{short}_weight"].value[:, None]

        do = project_back("out_proj", dy, o).reshape(M, B, T, h, dv).transpose(0, 1, 3, 2, 4)
        dA = do @ v.swapaxes(-1, -2)
        dV = A.swapaxes(-1, -2) @ do
        dscores = A * (dA - (dA * A).sum(axis=-1, keepdims=True))
        dQ = (dscores @ k) / math.sqrt(dk)
        dK = (dscores.swapaxes(-1, -2) @ q) / math.sqrt(dk)
        dx = project_back("q_proj", merge(dQ), xq)
        dsrc = project_back("k_proj", merge(dK), src) + project_back("v_proj", merge(dV), src)
        if cross:
            self.kv_grad = dsrc
            return dx if self.need_input_grad else None
        self.kv_grad = None
        return dx + dsrc if self.need_input_grad else None

    # -- description ----------------------------------------------------------------------------
    def config(self):
        return {
            **super().config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "output_dim": self.output_dim,
            "causal": self.causal,
            "use_bias": self.use_bias,
            "kv_dim": self.kv_dim,
            "kernel_regularizer": regs.config_of(self.kernel_regularizer),
        }

    def __repr__(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("value_dim", "output_dim", "kv_dim")
                        if getattr(self, k) is not None)
        extra += ", causal=True" if self.causal else ""
        extra += ", use_bias=False" if not self.use_bias else ""
        return f"MultiHeadAttention({self.num_heads}, {self.key_dim}{extra})"

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_cache=None)
        return state
