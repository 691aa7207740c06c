"""Pooling over the height and width of channels-last images ``(M, B, H, W, C)``.

A pooling window of ``ph x pw`` is walked as its ``ph*pw`` offsets: for offset ``(i, j)`` the
strided view ``x[..., i::sh, j::sw, :]`` holds that element of every window at once (see
:func:`glassnet.layers.conv.window_views`). Max and mean are then a handful of whole-array
operations, with no Python loop over pixels, samples or channels. When the windows tile the
input exactly (stride = pool size, no padding, sizes divisible: the usual 2x2/2) every input
element belongs to one window, so backward writes each view once instead of accumulating.
"""

from __future__ import annotations

import numpy as np

from .. import fast
from ..errors import GlassnetError
from ..fast import pool as fast_pool
from .base import Layer, layer_types
from .conv import as_pair, check_padding, out_size, pad_amounts, padded, window_views


class _Pool2D(Layer):
    """Shared shape logic: ``pool_size``, ``strides`` (default: ``pool_size``), ``padding``."""

    accepts_shared_input = True
    _fill = 0.0  # value of padded positions

    def __init__(self, pool_size=2, strides=None, padding="valid", name: str | None = None):
        super().__init__(name)
        label = type(self).__name__
        self.pool_size = as_pair(pool_size, f"{label} pool_size")
        self.strides = self.pool_size if strides is None else as_pair(strides, f"{label} strides")
        self.padding = check_padding(padding, label, allow_int=False)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise GlassnetError(f"{type(self).__name__} expects images (height, width, channels), got "
                                f"per-sample shape {tuple(input_shape)}")
        H, W, C = input_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        self._pads = (pad_amounts(self.padding, H, ph, sh), pad_amounts(self.padding, W, pw, sw))
        (pt, pb), (pl, pr) = self._pads
        Ho, Wo = out_size(H, pt, pb, ph, sh), out_size(W, pl, pr, pw, sw)
        if Ho < 1 or Wo < 1:
            raise GlassnetError(f"{type(self).__name__} pool_size {self.pool_size} does not fit the input "
                                f"{H}x{W}; use a smaller pool_size or padding='same'")
        # windows tile the input exactly: each input element is in exactly one window
        self._tiles = (self._pads == ((0, 0), (0, 0)) and self.strides == self.pool_size
                       and H == Ho * ph and W == Wo * pw)
        return (Ho, Wo, C)

    def _views(self, xp):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        Ho, Wo, _ = self.output_shape
        return window_views(xp, ph, pw, sh, sw, Ho, Wo)

    def _grad_buffer(self, dy):
        """Zeroed ``dL/dxpad`` (``empty`` when the windows tile the input: every element is written)."""
        H, W, C = self.input_shape
        (pt, pb), (pl, pr) = self._pads
        shape = dy.shape[:-3] + (H + pt + pb, W + pl + pr, C)
        return np.empty(shape, dy.dtype) if self._tiles else np.zeros(shape, dy.dtype)

    def _crop(self, dxp):
        (pt, _), (pl, _) = self._pads
        H, W, _ = self.input_shape
        return dxp[..., pt:pt + H, pl:pl + W, :]

    def config(self):
        return {**super().config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}

    def __repr__(self):
        p = self.pool_size[0] if self.pool_size[0] == self.pool_size[1] else self.pool_size
        extra = "" if self.strides == self.pool_size else f", strides={self.strides}"
        extra += "" if self.padding == "valid" else f", padding={self.padding!r}"
        return f"{type(self).__name__}({p}{extra})"


@layer_types.register("max_pool2d", "maxpool2d", "max_pooling2d", "maxpooling2d")
class MaxPool2D(_Pool2D):
    """y[.., ho, wo, c] = max over the window of x[.., ho*sh + i, wo*sw + j, c].

    "same" padding pads with -inf, so a padded position is never the maximum.
    Backward: dL/dx is dL/dy routed to the window's maximum. When several elements of a window
    tie, the first one in row-major order gets it all, as in PyTorch (so the gradient of a
    constant window is not counted twice). Overlapping windows (stride < pool) accumulate.

    The common 2x2 pool with stride 2 keeps three booleans per window from the forward pass
    (right beat left in the top pair, in the bottom pair, bottom pair beat top pair), which
    name the winner with half the work of comparing every element with the maximum again.
    """

    kind = "max_pool2d"
    _fill = -np.inf

    def forward(self, x, train):
        self._arg = None  # the fast path's winners (glassnet.fast.pool); None: reference caches
        if fast.available(fast_pool.KERNEL):
            y = fast_pool.attempt(fast_pool.maxpool_forward, self, x, train)
            if y is not fast_pool.FAILED:
                return y
        xp = padded(x, self._pads, self._fill)
        v = self._views(xp)
        if self.pool_size == self.strides == (2, 2):
            top, bottom = np.maximum(v[0], v[1]), np.maximum(v[2], v[3])
            # strict ">" so that ties go to the first element in row-major order
            self._bits = (np.greater(v[1], v[0]), np.greater(v[3], v[2]), np.greater(bottom, top))
            return np.maximum(top, bottom, out=top)
        y = np.maximum(v[0], v[1]) if len(v) > 1 else v[0].copy()
        for view in v[2:]:
            np.maximum(y, view, out=y)
        self._xp, self._y = xp, y  # references, no copies
        return y

    def backward(self, dy):
        if self._arg is not None:  # the forward pass ran fast
            if fast.available(fast_pool.KERNEL):
                dx = fast_pool.attempt(fast_pool.maxpool_backward, self, dy)
                if dx is not fast_pool.FAILED:
                    return dx
            with fast.reference():  # rebuild the reference's caches for the code below
                self.forward(self._x, True)
        dxp = self._grad_buffer(dy)
        if self.pool_size == self.strides == (2, 2):
            right_top, right_bottom, bottom = self._bits
            top = ~bottom
            d = self._views(dxp)
            np.multiply(dy, np.greater(top, right_top), out=d[0])  # top and not right: top-left
            np.multiply(dy, top & right_top, out=d[1])
            np.multiply(dy, np.greater(bottom, right_bottom), out=d[2])
            np.multiply(dy, bottom & right_bottom, out=d[3])
            return self._crop(dxp)
        y = self._y
        taken = None  # windows whose gradient already went to an earlier (first) maximum
        views = self._views(self._xp)
        for k, (v, dv) in enumerate(zip(views, self._views(dxp))):
            hit = v == y
            if taken is None:
                taken = hit
            else:
                np.greater(hit, taken, out=hit)  # for booleans: hit and not taken
                if k < len(views) - 1:
                    taken |= hit
            if self._tiles:
                np.multiply(dy, hit, out=dv)
            else:
                dv += dy * hit
        return self._crop(dxp)


@layer_types.register("avg_pool2d", "avgpool2d", "average_pooling2d", "averagepooling2d")
class AvgPool2D(_Pool2D):
    """y[.., ho, wo, c] = mean over the window of x[.., ho*sh + i, wo*sw + j, c].

    With "same" padding the mean is over the real (unpadded) elements only (Keras' convention;
    PyTorch's ``count_include_pad=False``). Backward: each element of a window gets
    ``dL/dy / count``; overlapping windows accumulate.
    """

    kind = "avg_pool2d"

    def build(self, input_shape, ctx):
        super().build(input_shape, ctx)
        # number of real elements in each window: pool a ones image through the same views
        ones = padded(np.ones((1,) + tuple(input_shape[:2]) + (1,), ctx.dtype), self._pads, 0.0)
        count = sum(v for v in self._views(ones))
        self._inv_count = (1.0 / count).astype(ctx.dtype)  # (1, Ho, Wo, 1)
        if np.all(count == count.flat[0]):
            self._inv_count = ctx.dtype.type(1.0 / count.flat[0])
        return self.output_shape

    def forward(self, x, train):
        if fast.available(fast_pool.KERNEL):
            y = fast_pool.attempt(fast_pool.avgpool_forward, self, x)
            if y is not fast_pool.FAILED:
                return y
        views = self._views(padded(x, self._pads, 0.0))
        y = views[0] + views[1] if len(views) > 1 else views[0].copy()
        for v in views[2:]:
            y += v
        y *= self._inv_count
        return y

    def backward(self, dy):
        if fast.available(fast_pool.KERNEL):
            dx = fast_pool.attempt(fast_pool.avgpool_backward, self, dy)
            if dx is not fast_pool.FAILED:
                return dx
        g = dy * self._inv_count
        dxp = self._grad_buffer(dy)
        for dv in self._views(dxp):
            if self._tiles:
                dv[...] = g
            else:
                dv += g
        return self._crop(dxp)


@layer_types.register("global_average_pooling2d", "global_avg_pool2d", "globalaveragepooling2d")
class GlobalAveragePooling2D(Layer):
    """y[.., c] = mean over (h, w) of x[.., h, w, c]: ``(M, B, H, W, C)`` -> ``(M, B, C)``.
    Backward: dL/dx[.., h, w, c] = dL/dy[.., c] / (H*W)."""

    kind = "global_average_pooling2d"
    accepts_shared_input = True

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise GlassnetError(f"GlobalAveragePooling2D expects images (height, width, channels), got "
                                f"per-sample shape {tuple(input_shape)}")
        return (input_shape[-1],)

    def forward(self, x, train):
        if fast.available(fast_pool.KERNEL):
            y = fast_pool.attempt(fast_pool.global_avg_forward, self, x)
            if y is not fast_pool.FAILED:
                return y
        return x.mean(axis=(-3, -2))

    def backward(self, dy):
        if fast.available(fast_pool.KERNEL):
            dx = fast_pool.attempt(fast_pool.global_avg_backward, self, dy)
            if dx is not fast_pool.FAILED:
                return dx
        H, W, C = self.input_shape
        dx = np.empty(dy.shape[:-1] + (H, W, C), dy.dtype)
        dx[...] = (dy * dy.dtype.type(1.0 / (H * W)))[..., None, None, :]
        return dx


MaxPooling2D = MaxPool2D  # Keras' names
AveragePooling2D = AvgPool2D
