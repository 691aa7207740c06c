"""Compiled kernels for the pooling layers: max, average and global average pooling.

The readable NumPy code in :mod:`glassnet.layers.pooling` is the reference; each kernel computes
its values in the reference's order (maxima and window sums element by element), so results are
bit-identical; ``tests/fast/test_conv.py`` holds them to it. Images are channels-last
``(L, B, H, W, C)`` (``L`` = models, or 1 for an input shared by all models).

Max pooling keeps, per output element, the offset ``i*pw + j`` of the window's winner and routes
the gradient through it; average pooling and global average pooling are sums. Max pooling and
global average pooling (the common cases after a convolution) run a slice of the batch a thread
on :func:`glassnet.fast.chunks.run` (:func:`glassnet.fast.conv._by_images`); average pooling's
kernels run on one thread.

The layers call the glue functions through :func:`attempt`: any exception marks the ``"conv"``
kernels broken (one :class:`~glassnet.fast.FastPathWarning`, the same switch as Conv2D's) and
the reference runs instead.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .conv import FAILED, KERNEL, PARALLEL, _by_images, _rows  # noqa: F401 - FAILED, KERNEL: the layers read them here
from .conv import attempt as _attempt

prange = range  # Numba's prange before the first compile (glassnet.fast.bind_prange)


def attempt(fn, *args):
    """:func:`glassnet.fast.conv.attempt` for this module's kernels (its ``prange`` bound too)."""
    return _attempt(fn, *args, kernels=globals())


@jit(parallel=PARALLEL, nogil=True)
def _maxpool_forward(x, ph, pw, sh, sw, pt, pl, y, arg):
    """y = max over each window (positions outside x are -inf, as the reference's padding);
    arg = offset i*pw + j of the first maximum in row-major order (-1: no real element).
    NaN wins, as in np.maximum."""
    L, B, H, W, C = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for t in prange(L * B * Ho):
        l, r = t // (B * Ho), t % (B * Ho)
        b, ho = r // Ho, r % Ho
        for wo in range(Wo):
            yo, ao = y[l, b, ho, wo], arg[l, b, ho, wo]
            first = True
            for i in range(ph):
                h = ho * sh + i - pt
                if h < 0 or h >= H:
                    continue
                for j in range(pw):
                    w = wo * sw + j - pl
                    if w < 0 or w >= W:
                        continue
                    src = x[l, b, h, w]
                    k = i * pw + j
                    if first:
                        for c in range(C):
                            yo[c] = src[c]
                            ao[c] = k
                        first = False
                    else:
                        for c in range(C):  # selects, not branches: the loop vectorizes
                            v, cur = src[c], yo[c]
                            take = (v > cur) | ((v != v) & (cur == cur))
                            yo[c] = v if take else cur
                            ao[c] = k if take else ao[c]
            if first:
                for c in range(C):
                    yo[c] = -np.inf
                    ao[c] = -1


@jit(parallel=PARALLEL, nogil=True)
def _maxpool2x2_forward(x, y, arg):
    """:func:`_maxpool_forward` for 2x2 windows with stride 2 that tile x: the same comparisons in
    the same order (offsets 0, 1, 2, 3), written out so that the channel loop vectorizes.
    Measured (cnn8's first pool, 8 x 64 x 16x16x16, one thread, CPU): 1.6 ms against 3.5 ms for
    the general kernel. (Backward written out the same way was slower, 4.6 against 2.0 ms.)"""
    L, B, H, W, C = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for t in prange(L * B * Ho):
        l, r = t // (B * Ho), t % (B * Ho)
        b, ho = r // Ho, r % Ho
        top, bottom = x[l, b, 2 * ho], x[l, b, 2 * ho + 1]
        for wo in range(Wo):
            s0, s1, s2, s3 = top[2 * wo], top[2 * wo + 1], bottom[2 * wo], bottom[2 * wo + 1]
            yo, ao = y[l, b, ho, wo], arg[l, b, ho, wo]
            for c in range(C):
                cur, k = s0[c], 0
                v = s1[c]
                take = (v > cur) | ((v != v) & (cur == cur))
                cur, k = (v, 1) if take else (cur, k)
                v = s2[c]
                take = (v > cur) | ((v != v) & (cur == cur))
                cur, k = (v, 2) if take else (cur, k)
                v = s3[c]
                take = (v > cur) | ((v != v) & (cur == cur))
                cur, k = (v, 3) if take else (cur, k)
                yo[c] = cur
                ao[c] = k


@jit(parallel=PARALLEL, nogil=True)
def _maxpool_backward_tiles(dy, arg, ph, pw, dx):
    """dx when the windows tile x (stride = pool size, no padding, sizes divisible): each element
    of dx is in one window, so it is written once: dy where it won, else dy*0."""
    L, B, H, W, C = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    shared = arg.shape[0] == 1  # a shared input's winners serve every model's gradient
    for t in prange(L * B * Ho):
        l, r = t // (B * Ho), t % (B * Ho)
        b, ho = r // Ho, r % Ho
        for wo in range(Wo):
            g, ao = dy[l, b, ho, wo], arg[0 if shared else l, b, ho, wo]
            for i in range(ph):
                for j in range(pw):
                    k = i * pw + j
                    out = dx[l, b, ho * ph + i, wo * pw + j]
                    for c in range(C):
                        d = g[c]
                        out[c] = d if ao[c] == k else d - d  # d*0 in d's dtype


@jit(parallel=PARALLEL)
def _maxpool_backward(dy, arg, pw, sh, sw, pt, pl, dx):
    """dx = 0, then dx[window's winner] += dy for every window (one image per thread). ``arg``
    may have one image stack for all models (``arg.shape[0] == 1``: the input was shared)."""
    L, B, H, W, C = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    shared = arg.shape[0] == 1
    for t in prange(L * B):
        l, b = t // B, t % B
        img = dx[l, b]
        img[:] = 0.0
        for ho in range(Ho):
            for wo in range(Wo):
                g, ao = dy[l, b, ho, wo], arg[0 if shared else l, b, ho, wo]
                for c in range(C):
                    k = ao[c]
                    if k >= 0:
                        img[ho * sh + k // pw - pt, wo * sw + k % pw - pl, c] += g[c]


@jit(parallel=PARALLEL)
def _avgpool_forward(x, ph, pw, sh, sw, pt, pl, inv_count, y):
    """y = (sum of the window's real elements, row-major) * inv_count[ho, wo]."""
    L, B, H, W, C = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for t in prange(L * B * Ho):
        l, r = t // (B * Ho), t % (B * Ho)
        b, ho = r // Ho, r % Ho
        for wo in range(Wo):
            yo = y[l, b, ho, wo]
            for c in range(C):
                yo[c] = 0.0
            for i in range(ph):
                h = ho * sh + i - pt
                if h < 0 or h >= H:
                    continue
                for j in range(pw):
                    w = wo * sw + j - pl
                    if 0 <= w < W:
                        src = x[l, b, h, w]
                        for c in range(C):
                            yo[c] += src[c]
            s = inv_count[ho, wo]
            for c in range(C):
                yo[c] *= s


@jit(parallel=PARALLEL)
def _avgpool_backward(dy, ph, pw, sh, sw, pt, pl, inv_count, dx):
    """dx = 0, then every real element of a window += dy * inv_count (one image per thread)."""
    L, B, H, W, C = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    for t in prange(L * B):
        l, b = t // B, t % B
        img = dx[l, b]
        img[:] = 0.0
        for ho in range(Ho):
            for wo in range(Wo):
                g, s = dy[l, b, ho, wo], inv_count[ho, wo]
                for i in range(ph):
                    h = ho * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(pw):
                        w = wo * sw + j - pl
                        if 0 <= w < W:
                            for c in range(C):
                                img[h, w, c] += g[c] * s


@jit(parallel=PARALLEL, nogil=True)
def _global_avg_forward(x, y):
    """y[l, b, :] = sum over (h, w) of x[l, b, h, w, :], divided by H*W."""
    L, B, H, W, C = x.shape
    n = H * W
    for t in prange(L * B):
        l, b = t // B, t % B
        yo = y[l, b]
        for c in range(C):
            yo[c] = 0.0
        for h in range(H):
            for w in range(W):
                src = x[l, b, h, w]
                for c in range(C):
                    yo[c] += src[c]
        for c in range(C):
            yo[c] /= n


@jit(parallel=PARALLEL, nogil=True)
def _global_avg_backward(dy, scale, dx):
    """dx[l, b, h, w, :] = dy[l, b, :] * scale (scale = 1/(H*W) in dy's dtype)."""
    L, B, H, W, C = dx.shape
    for t in prange(L * B * H):
        l, r = t // (B * H), t % (B * H)
        b, h = r // H, r % H
        g = dy[l, b]
        for w in range(W):
            out = dx[l, b, h, w]
            for c in range(C):
                out[c] = g[c] * scale


# -- glue: what the layers call (through attempt) -------------------------------------------------
def _pool_args(layer):
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    (pt, _), (pl, _) = layer._pads
    return ph, pw, sh, sw, pt, pl


def maxpool_forward(layer, x, train):
    """MaxPool2D.forward; keeps ``layer._arg`` (winner offsets, int32) and ``layer._x`` for backward."""
    ph, pw, sh, sw, pt, pl = _pool_args(layer)
    x5 = np.ascontiguousarray(x if x.ndim == 5 else x[None])
    Ho, Wo, C = layer.output_shape
    y = np.empty(x5.shape[:2] + (Ho, Wo, C), x5.dtype)
    arg = np.empty(y.shape, np.int32)  # int8 would be smaller, but stops the loop vectorizing (4x slower)
    if layer._tiles and (ph, pw) == (2, 2):
        _by_images(x5.shape[0], x5.shape[1], lambda l, lo, hi: _maxpool2x2_forward(
            _rows(x5, l, lo, hi), _rows(y, l, lo, hi), _rows(arg, l, lo, hi)))
    else:
        _by_images(x5.shape[0], x5.shape[1], lambda l, lo, hi: _maxpool_forward(
            _rows(x5, l, lo, hi), ph, pw, sh, sw, pt, pl, _rows(y, l, lo, hi), _rows(arg, l, lo, hi)))
    layer._x, layer._arg = x, arg
    return y if x.ndim == 5 else y[0]


def maxpool_backward(layer, dy):
    """MaxPool2D.backward from the forward pass's winners."""
    ph, pw, sh, sw, pt, pl = _pool_args(layer)
    arg = layer._arg  # (L, B, Ho, Wo, C); dy may carry the model axis where x was shared (L = 1)
    dy5 = np.ascontiguousarray(dy if dy.ndim == 5 else dy[None])
    dx = np.empty(dy5.shape[:2] + tuple(layer.input_shape), dy.dtype)
    if layer._tiles:
        _by_images(dy5.shape[0], dy5.shape[1], lambda l, lo, hi: _maxpool_backward_tiles(
            _rows(dy5, l, lo, hi), _rows(arg, l, lo, hi), ph, pw, _rows(dx, l, lo, hi)))
    else:
        _maxpool_backward(dy5, arg, pw, sh, sw, pt, pl, dx)
    return dx.reshape(dy.shape[:-3] + tuple(layer.input_shape))


def _inv_count(layer, dtype):
    """AvgPool2D's 1/count as a ``(Ho, Wo)`` array (the layer keeps a scalar or ``(1, Ho, Wo, 1)``)."""
    Ho, Wo, _ = layer.output_shape
    inv = np.asarray(layer._inv_count, dtype)
    out = np.empty((Ho, Wo), dtype)
    out[...] = inv.reshape(inv.shape[1:3]) if inv.ndim == 4 else inv
    return out


def avgpool_forward(layer, x):
    ph, pw, sh, sw, pt, pl = _pool_args(layer)
    x5 = np.ascontiguousarray(x if x.ndim == 5 else x[None])
    Ho, Wo, C = layer.output_shape
    y = np.empty(x5.shape[:2] + (Ho, Wo, C), x5.dtype)
    _avgpool_forward(x5, ph, pw, sh, sw, pt, pl, _inv_count(layer, x5.dtype), y)
    return y if x.ndim == 5 else y[0]


def avgpool_backward(layer, dy):
    ph, pw, sh, sw, pt, pl = _pool_args(layer)
    dy5 = np.ascontiguousarray(dy if dy.ndim == 5 else dy[None])
    dx = np.empty(dy5.shape[:2] + tuple(layer.input_shape), dy.dtype)
    _avgpool_backward(dy5, ph, pw, sh, sw, pt, pl, _inv_count(layer, dy.dtype), dx)
    return dx if dy.ndim == 5 else dx[0]


def global_avg_forward(layer, x):
    x5 = np.ascontiguousarray(x if x.ndim == 5 else x[None])
    y = np.empty(x5.shape[:2] + x5.shape[-1:], x5.dtype)
    _by_images(x5.shape[0], x5.shape[1], lambda l, lo, hi: _global_avg_forward(
        _rows(x5, l, lo, hi), _rows(y, l, lo, hi)))
    return y if x.ndim == 5 else y[0]


def global_avg_backward(layer, dy):
    H, W, C = layer.input_shape
    dy3 = np.ascontiguousarray(dy if dy.ndim == 3 else dy[None])
    dx = np.empty(dy3.shape[:2] + (H, W, C), dy.dtype)
    scale = dy.dtype.type(1.0 / (H * W))
    _by_images(dy3.shape[0], dy3.shape[1], lambda l, lo, hi: _global_avg_backward(
        _rows(dy3, l, lo, hi), scale, _rows(dx, l, lo, hi)))
    return dx if dy.ndim == 3 else dx[0]
