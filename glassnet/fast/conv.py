"""Compiled kernels for Conv2D: patches (im2col), bias + ReLU, ReLU's derivative, col2im, and the
glue that runs a layer's whole pipeline a piece of the batch at a time on both cores.

The readable NumPy code in :mod:`glassnet.layers.conv` is the reference. A convolution's
arithmetic is almost all in three matrix products: narrow ones (small kernels, few filters) run
on :mod:`glassnet.fast.tiles`' register tiles, which also add the bias and apply ReLU as
they store the forward's result; the others stay in BLAS (``np.matmul``). Around them the
reference does element-wise work on one thread -- copying patches, adding the bias,
ReLU and its derivative, summing the bias gradient, folding patch gradients back onto the image.
These kernels do that work in the reference's order wherever that is cheap (patch copies,
bias + ReLU, col2im's sums), so most results are bit-identical; sums that are split (the bias
gradient per sample, dL/dW per piece of the batch) agree to rounding. ``tests/fast/test_conv.py``
holds every function here to the reference (float64 to 1e-12, float32 within rounding).
Pooling's kernels are in :mod:`glassnet.fast.pool`.

Layout: images are channels-last ``(L, B, H, W, C)`` (``L`` = models, or 1 for an input shared
by all models). The patch matrix ``cols`` is ``(L, B, Ho, Wo, kh, kw, C)``, i.e. the reference's
``(L, B*Ho*Wo, kh*kw*C)``.

The pipeline: the batch is cut into pieces of a few images (:func:`_pieces`: about
:data:`CHUNK_BYTES` of patches, at least :data:`MIN_PIECES` pieces), and each
piece goes through the layer's whole pipeline while its data is in cache:

    forward:  im2col(piece) -> z = cols @ W (tiles or BLAS, one thread) -> z += b; a = relu(z)
    backward: dz = dy * (z > 0), db per sample -> dW_piece = cols^T dz -> dcols = dz @ W^T -> col2im

The pieces run on :func:`glassnet.fast.chunks.run`'s threads (as many as BLAS had), BLAS
single-threaded meanwhile; the partial dW of the pieces are summed in piece order afterwards, so
the result does not depend on which thread took which piece. The patches are kept for backward
when the input has few channels (``C < CHUNK_MIN_CHANNELS``: unfolding 3 channels again would
cost as much as the GEMM), else each piece is unfolded again in backward (cheaper than 19 MB of
cnn32's patches through main memory).

Why not BLAS' own threads: every GEMM here is small (a piece), and after each call OpenBLAS'
worker spins ~0.1 s (2^28 cycles) waiting for the next one -- on 2 cores it then competes with
whatever runs next (measured: CPU 0.107 s busy during a 0.3 s sleep after one 2-thread GEMM,
0 after a 1-thread one). Numba's own threads (``prange``, :data:`PARALLEL`) stay off for the same
reason (OpenMP workers spin too: cnn32 ~105 ms/step against 62 serial, before the pieces).

Measured on the shared 2-core machine (float32, batch 64; other jobs kept 1-1.4 cores busy, so
only same-moment comparisons mean anything). cnn8 (8 models on a shared input), ms/step: pieces
on both threads 42-45 (CPU 76) against 276-500 for whole-batch GEMMs on BLAS' threads with one-
thread passes (the code before; 52 on a quiet machine), at load ~3.4; one-thread CPU min 43-49
against 52. In one benchmark run at load ~2.7: glassnet 57.8, torch_loop 73.8 (1.28x; goal 2x).
cnn32: the model's Dense layer (4096 -> 10) multiplies on BLAS' 2 threads, so OpenBLAS' worker
spins through every step and takes CPU from the pieces' threads: CPU 110-135 ms/step against
62-86 with that Dense on one BLAS thread (same moments, load 2.6-3.2). Quiet, 2026-11-30 13:20
UTC (``benchmarks/run.py``), after the register tiles, threaded global pooling and
:func:`glassnet.fast.memory.keep_freed`: cnn8 26.8 ms against the PyTorch loop's 65.9 (2.46x;
34.6 and 62.3 at 10:34, 1.80x), cnn32 32.2 against PyTorch's 50.1. Of a cnn8 step on one thread
(CPU, cProfile, ~33 ms): the tiles' products ~19 ms, im2col 4.4, ReLU's derivative 3.5, max
pooling 3.8, col2im 1.5. On two threads a step takes ~1.7x the CPU of one (the two threads slow
each other: the products are multiply-add bound, the passes memory bound), so 2 threads gain
~1.2x in wall time.

Layers call :func:`conv2d_forward` / :func:`conv2d_backward` through :func:`attempt`, which
turns any exception into ``glassnet.fast.mark_broken("conv", exc)`` (one
:class:`~glassnet.fast.FastPathWarning`) and the reference code for that call and after. The glue
leaves the layers' caches as the reference leaves them (``Conv2D._x``, ``act._z``, ``act._a``,
and ``Conv2D._cols`` for layers that keep their patches), so the trace, gradcheck and
diagnostics read the same state on both paths.
"""

from __future__ import annotations

import numpy as np

from . import bind_prange, chunks, jit, mark_broken

prange = range  # Numba's prange before the first compile (glassnet.fast.bind_prange)
KERNEL = "conv"  # the name in glassnet.fast.available() / mark_broken() (pooling's kernels too)
#: Compile the kernels with Numba threads (``prange``). Off: see the module docstring.
PARALLEL = False
#: Bytes of patches (``cols``, or ``dcols`` in the input gradient) in one piece of the batch: a
#: piece should stay in cache between the GEMM and the pass that reads it (L2 512 KiB a core here,
#: L3 32 MiB). Single-thread, cnn32's second layer: 1 image a piece 10.2 ms for dL/dx, 8 images
#: 12.4, the whole batch at once 18.4.
CHUNK_BYTES = 1024 * 1024
#: A stack's batch is cut into at least this many pieces, so that the threads share the work
#: evenly even for one model and a thread that is descheduled (the machine is shared) delays a
#: small piece, not half the batch. Each piece costs ~30-45 us of Python (slicing, 3-5 calls)
#: under the GIL: cnn8's second layer has 8 stacks, so 4 pieces a stack are 32 pieces, not 64.
MIN_PIECES = 4
#: Conv2D keeps its patches for backward below this many input channels; from it on, backward
#: unfolds each piece again (short patch rows make unfolding as costly as the GEMM).
CHUNK_MIN_CHANNELS = 8
#: Narrow products on :mod:`glassnet.fast.tiles`' register tiles (see :func:`_tiled`).
TILED = True
FAILED = object()  # what attempt() returns when the fast path gave up (None is a valid result)


def attempt(fn, *args, kernels: dict | None = None):
    """``fn(*args)``; on any exception mark the image kernels broken (one warning) and return
    FAILED. Numba's ``prange`` is bound first in this module and in ``kernels`` (the globals of
    another kernel module whose functions ``fn`` calls: :mod:`glassnet.fast.pool`)."""
    try:
        bind_prange(globals())
        if kernels is not None:
            bind_prange(kernels)
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - a fast path never raises: the reference takes over
        mark_broken(KERNEL, exc)
        return FAILED


# -- kernels (plain loops over models x batch [x rows]; Numba compiles them, nogil) ---------------
@jit(parallel=PARALLEL, nogil=True)
def _im2col(x, sh, sw, pt, pl, cols):
    """cols[l, b, ho, wo, i, j, :] = x[l, b, ho*sh + i - pt, wo*sw + j - pl, :] (0 outside x)."""
    L, B, H, W, C = x.shape
    Ho, Wo, kh, kw = cols.shape[2], cols.shape[3], cols.shape[4], cols.shape[5]
    for t in prange(L * B * Ho):
        l, r = t // (B * Ho), t % (B * Ho)
        b, ho = r // Ho, r % Ho
        for wo in range(Wo):
            for i in range(kh):
                h = ho * sh + i - pt
                for j in range(kw):
                    w = wo * sw + j - pl
                    dst = cols[l, b, ho, wo, i, j]
                    if 0 <= h < H and 0 <= w < W:
                        src = x[l, b, h, w]
                        for c in range(C):
                            dst[c] = src[c]
                    else:
                        for c in range(C):
                            dst[c] = 0.0


@jit(parallel=PARALLEL, nogil=True)
def _bias_act(z, b, use_bias, relu, a, ms, s0, s1):
    """For models ``ms`` (an array of indices) and samples ``s0:s1``: z += b (in place, if
    use_bias); a = max(z, 0) (if relu). z, a ``(M, B, R, F)``, whole arrays (a piece of the batch
    is named by its bounds, so one call serves every model of a piece)."""
    R, F = z.shape[2], z.shape[3]
    for t in prange(len(ms) * (s1 - s0)):
        m, s = ms[t // (s1 - s0)], s0 + t % (s1 - s0)
        zs = z[m, s]
        as_ = a[m, s]
        for r in range(R):
            zr = zs[r]
            if use_bias:
                for f in range(F):
                    zr[f] = zr[f] + b[m, f]
            if relu:
                ar = as_[r]
                for f in range(F):
                    v = zr[f]
                    ar[f] = 0.0 if v < 0 else v  # NaN stays NaN, as np.maximum(z, 0)


@jit(parallel=PARALLEL, nogil=True)
def _relu_backward(dy, z, dz, partial, ms, s0, s1):
    """For models ``ms`` and samples ``s0:s1``: dz = dy * (z > 0) (the reference's product: inf or
    NaN in dy survive as NaN); partial[m, s] = sum over the sample's rows of dz (the bias gradient
    before the sum over the batch)."""
    R, F = dz.shape[2], dz.shape[3]
    for t in prange(len(ms) * (s1 - s0)):
        m, s = ms[t // (s1 - s0)], s0 + t % (s1 - s0)
        ps = partial[m, s]
        for f in range(F):
            ps[f] = 0.0
        for r in range(R):
            dyr, zr, dzr = dy[m, s, r], z[m, s, r], dz[m, s, r]
            for f in range(F):
                d = dyr[f]
                g = d if zr[f] > 0 else d - d  # d*0 in d's dtype: 0, or NaN for inf/NaN d
                dzr[f] = g
                ps[f] += g


@jit(parallel=PARALLEL, nogil=True)
def _col2im(dcols, sh, sw, pt, pl, dx):
    """dx[m, b, ho*sh + i - pt, wo*sw + j - pl, :] += dcols[m, b, ho, wo, i, j, :] for every
    position and offset inside x, from dx = 0. dcols is read in order; the few rows of dx it
    feeds stay in cache."""
    M, B, H, W, C = dx.shape
    Ho, Wo, kh, kw = dcols.shape[2], dcols.shape[3], dcols.shape[4], dcols.shape[5]
    for t in prange(M * B):
        m, b = t // B, t % B
        img = dx[m, b]
        img[:] = 0.0
        for ho in range(Ho):
            for wo in range(Wo):
                for i in range(kh):
                    h = ho * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        w = wo * sw + j - pl
                        if w < 0 or w >= W:
                            continue
                        src, dst = dcols[m, b, ho, wo, i, j], img[h, w]
                        for c in range(C):
                            dst[c] += src[c]


# -- pieces of the batch ---------------------------------------------------------------------------
def _pieces(L, B, per_image):
    """``(l, s, g)`` for every piece: images ``s:s+g`` of input stack ``l``. Each stack is cut
    the same way: about :data:`CHUNK_BYTES` a piece (``per_image`` bytes an image), at least
    :data:`MIN_PIECES` pieces and an even number of them (two threads share them evenly), of
    nearly equal sizes. The cut depends on neither the number of stacks nor the threads, so
    dL/dW (summed piece by piece) is the same number for a model trained alone or in an
    ensemble, on one thread or two."""
    n = max(-(-B * per_image // CHUNK_BYTES), MIN_PIECES)
    n = min(B, n + n % 2)
    G = -(-B // n)
    return [(l, s, min(G, B - s)) for l in range(L) for s in range(0, B, G)]


def _by_images(L, B, call):
    """``call(l, lo, hi)`` for pieces of the batch that cover every ``(l, image)``: one call for
    everything on one thread, else each stack's batch cut into one piece a thread on
    :func:`glassnet.fast.chunks.run`. Slices ``a[l:l+1, lo:hi]`` of contiguous arrays stay
    contiguous, so the kernels see the layout they were compiled for."""
    T = min(chunks.threads(), B)
    if T <= 1:
        call(None, 0, B)
        return
    cuts = [B * t // T for t in range(T + 1)]
    todo = [(l, cuts[t], cuts[t + 1]) for l in range(L) for t in range(T)]
    chunks.run(lambda i: call(*todo[i]), len(todo))


def _rows(a, l, lo, hi):
    """``a[l:l+1, lo:hi]`` (``a`` itself for l None: the whole array in one call); a stack of
    length 1 (an input shared by all models) serves every l."""
    if l is None:
        return a
    k = 0 if a.shape[0] == 1 else l
    return a[k:k + 1, lo:hi]


# -- glue: what the layers call (through attempt) -------------------------------------------------
def _relu_layer(act):
    """Whether ``act`` is the plain ReLU activation layer (the one fused into the convolution)."""
    from ..activations import ReLU  # noqa: PLC0415 - glassnet.fast stays light to import
    from ..layers.activation import Activation  # noqa: PLC0415

    return type(act) is Activation and type(act.fn) is ReLU


def _pointwise(layer):
    """A 1x1 convolution with stride 1 and no padding: the input is its own patch matrix."""
    return (*layer.kernel_size, *layer.strides) == (1, 1, 1, 1) and layer._pads == ((0, 0), (0, 0))


def _keeps_patches(layer, C):
    """Whether the patches are kept for backward (few input channels), else unfolded again."""
    return C < CHUNK_MIN_CHANNELS


def _geometry(layer):
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    (pt, _), (pl, _) = layer._pads
    return kh, kw, sh, sw, pt, pl


def _unfold(layer, x, l, s, g, out=None):
    """The patches ``(g*Ho*Wo, kh*kw*C)`` of images ``s:s+g`` of input stack ``l``, into ``out``
    (a ``(1, g, Ho, Wo, kh, kw, C)`` slice of the kept patches) or a new buffer."""
    kh, kw, sh, sw, pt, pl = _geometry(layer)
    Ho, Wo, _ = layer.output_shape
    C = x.shape[-1]
    part = np.empty((1, g, Ho, Wo, kh, kw, C), x.dtype) if out is None else out
    _im2col(x[l, s:s + g][None], sh, sw, pt, pl, part)
    return part.reshape(g * Ho * Wo, kh * kw * C)


def _tiled(K, N, dtype, transposed=False):
    """Whether an ``(R, K) @ (K, N)`` product (``transposed``: ``(R, K)^T (R, N)``) runs on
    :mod:`glassnet.fast.tiles`' register tiles rather than BLAS: float32 and float64, in
    the shapes where the tiles were measured faster; :data:`TILED` off: always BLAS."""
    if not TILED or dtype not in (np.float32, np.float64):
        return False
    from . import tiles  # noqa: PLC0415 - imports Numba: only once it is known to work

    size = np.dtype(dtype).itemsize
    return tiles.fits_transposed(N, size) if transposed else tiles.fits_times(K, N, size)


def _model_lists(L, M):
    """For each input stack, the models it feeds (int64 arrays, as the kernels take them): all of
    them for a shared input (L = 1), else model ``l`` for stack ``l``."""
    return [np.arange(M)] if L == 1 else [np.array([l]) for l in range(L)]


def conv2d_forward(layer, x, train):
    """Conv2D.forward: per piece of the batch, patches -> GEMM -> bias and ReLU in one pass."""
    if x.ndim == 4:
        x = x[None]
    x = np.ascontiguousarray(x)
    Ho, Wo, F = layer.output_shape
    M = layer.W.value.shape[0]
    L, B, C = x.shape[0], x.shape[1], x.shape[-1]
    P, K = Ho * Wo, layer.W.value[0].size // F
    Wmat = layer.W.value.reshape(M, K, F)
    act = layer.act
    relu = _relu_layer(act)
    b = np.ascontiguousarray(layer.b.value if layer.use_bias else np.zeros((M, F), x.dtype))
    z = np.empty((M, B, P, F), x.dtype)
    a = np.empty_like(z) if relu else z
    pointwise = _pointwise(layer)
    cols = None
    if pointwise:
        cols = x.reshape(L, B * P, C)
    elif _keeps_patches(layer, C):
        kh, kw = layer.kernel_size
        shape = (L, B, Ho, Wo, kh, kw * C)  # the reference's buffer shape: the two paths share it
        cols = layer._buf if train else None
        if cols is None or cols.shape != shape or cols.dtype != x.dtype:
            cols = np.empty(shape, x.dtype)
        if train:
            layer._buf = cols
    cols7 = None if cols is None or pointwise else cols.reshape(L, B, Ho, Wo, *layer.kernel_size, C)
    todo = _pieces(L, B, P * K * x.itemsize)
    models = _model_lists(L, M)
    tiled = _tiled(K, F, x.dtype)
    if tiled:
        from . import tiles  # noqa: PLC0415 - compiled code: only once Numba is known to work

    def work(i):
        l, s, g = todo[i]
        if pointwise:
            part = cols[l, s * P:(s + g) * P]
        else:
            part = _unfold(layer, x, l, s, g, None if cols7 is None else cols7[l:l + 1, s:s + g])
        if L == 1 and M > 1:  # a shared input: every model's product in one call
            rows = slice(s * P, (s + g) * P)
            zs, Ws, bs, as_ = z.reshape(M, B * P, F)[:, rows], Wmat, b, a.reshape(M, B * P, F)[:, rows]
        else:
            zs, Ws, bs = z[l:l + 1, s:s + g].reshape(1, g * P, F), Wmat[l:l + 1], b[l:l + 1]
            as_ = a[l:l + 1, s:s + g].reshape(1, g * P, F)
        if tiled:  # the product, bias and ReLU in one pass
            tiles.times(part[None], Ws, zs, bs, layer.use_bias, relu, as_)
            return
        np.matmul(part, Ws, out=zs)
        if layer.use_bias or relu:
            _bias_act(z, b, layer.use_bias, relu, a, models[l], s, s + g)
    chunks.run(work, len(todo))
    layer._x = x
    layer._cols = cols.reshape(L, B * P, K) if train and cols is not None else None
    z = z.reshape(M, B, Ho, Wo, F)
    if relu:
        act._z, act._a = z, a.reshape(z.shape)  # what Activation.forward keeps
        return act._a
    return act.forward(z, train)


def conv2d_backward(layer, dy):
    """Conv2D.backward, per piece of the batch: ReLU's derivative and the bias gradient in one pass,
    the piece's share of dL/dW (``cols^T dz``, patches kept or unfolded again), and its dL/dx
    (``dz @ W^T`` folded back by :func:`_col2im` while in cache). dL/dW sums the pieces in order."""
    act, x = layer.act, layer._x
    M, B, Ho, Wo, F = dy.shape
    L, C = x.shape[0], x.shape[-1]
    P, K = Ho * Wo, layer.W.value[0].size // F
    relu = _relu_layer(act) and act._z is not None
    if relu:
        dz = np.empty((M, B, P, F), dy.dtype)
        partial = np.empty((M, B, F), dy.dtype)
        dy4 = np.ascontiguousarray(dy).reshape(dz.shape)
        z4 = np.ascontiguousarray(act._z).reshape(dz.shape)
    else:
        dz = np.ascontiguousarray(act.backward(dy)).reshape(M, B, P, F)
    kh, kw, sh, sw, pt, pl = _geometry(layer)
    pointwise = _pointwise(layer)
    need_dx = layer.need_input_grad
    H, W, _ = layer.input_shape
    dx = np.empty((M, B, H, W, C), dy.dtype) if need_dx else None
    Wt = layer.W.value.reshape(M, K, F).swapaxes(-1, -2)  # (M, F, K), a view
    cols = layer._cols
    todo = _pieces(L, B, P * K * dy.itemsize)
    parts = np.empty((len(todo), M if L == 1 else 1, K, F), dy.dtype)
    models = _model_lists(L, M)
    tiled_dw = _tiled(K, F, dy.dtype, transposed=True)
    tiled_dx = need_dx and not pointwise and _tiled(F, K, dy.dtype)
    if tiled_dw or tiled_dx:
        from . import tiles  # noqa: PLC0415 - compiled code: only once Numba is known to work
    if tiled_dx:
        Wt = np.ascontiguousarray(Wt)  # the tiles read rows of W^T
        no_bias = np.zeros((1, K), dy.dtype)

    def work(i):
        l, s, g = todo[i]
        if pointwise:
            part = x[l, s:s + g].reshape(g * P, C)
        elif cols is not None:
            part = cols[l, s * P:(s + g) * P]
        else:
            part = _unfold(layer, x, l, s, g)
        if relu:
            _relu_backward(dy4, z4, dz, partial, models[l], s, s + g)
        if L == 1 and M > 1:  # a shared input: every model's dL/dW in one call
            dzs = dz.reshape(M, B * P, F)[:, s * P:(s + g) * P]
        else:
            dzs = dz[l:l + 1, s:s + g].reshape(1, g * P, F)
        if tiled_dw:
            tiles.transposed_times(part[None], dzs, parts[i])
        else:
            np.matmul(part.T, dzs, out=parts[i])
        for m in models[l] if need_dx else ():
            dzp = dz[m, s:s + g].reshape(g * P, F)
            if pointwise:
                np.matmul(dzp, Wt[m], out=dx[m, s:s + g].reshape(g * P, C))
                continue
            if tiled_dx:
                dcols = np.empty((1, g * P, K), dy.dtype)
                tiles.times(dzp[None], Wt[m:m + 1], dcols, no_bias, False, False, dcols)
            else:
                dcols = np.matmul(dzp, Wt[m])
            _col2im(dcols.reshape(1, g, Ho, Wo, kh, kw, C), sh, sw, pt, pl, dx[m, s:s + g][None])
    chunks.run(work, len(todo))
    dW = parts.sum(axis=0) if L == 1 else parts.reshape(M, -1, K, F).sum(axis=1)
    layer.W.grad = dW.reshape(layer.W.value.shape)
    if layer.use_bias:
        if relu:
            layer.b.grad = partial.sum(axis=1)
        else:
            dzf = dz.reshape(M, B * P, F)
            layer.b.grad = np.matmul(np.ones((1, B * P), dzf.dtype), dzf)[:, 0]
    return dx
