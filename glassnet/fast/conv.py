"""Compiled kernels for the image layers: Conv2D's patches, bias + ReLU and col2im, and pooling.

The readable NumPy code in :mod:`glassnet.layers.conv` and :mod:`glassnet.layers.pooling` is the
reference. A convolution's arithmetic is almost all in three matrix products, which stay in BLAS
(``np.matmul``); what the reference does on one thread around them is the element-wise work --
copying patches, adding the bias, ReLU and its derivative, summing the bias gradient, folding
patch gradients back onto the image, pooling -- and that is what these kernels do. Each computes
the reference's values in the reference's order wherever that is cheap (patch copies, bias + ReLU,
col2im's sums, pooling), so most results are bit-identical; sums that are split (the bias
gradient per sample, dL/dW per chunk of images) agree to rounding. ``tests/fast/test_conv.py``
holds every function here to the reference (float64 to 1e-12, float32 within rounding).

Layout: images are channels-last ``(L, B, H, W, C)`` (``L`` = models, or 1 for an input shared
by all models). The patch matrix ``cols`` is ``(L, B, Ho, Wo, kh, kw, C)``, i.e. the reference's
``(L, B*Ho*Wo, kh*kw*C)``. Conv2D's pipeline on the fast path:

    forward:  C < 8:  cols = im2col(x) (kept)  ->  z = cols @ W  ->  z += b; a = relu(z)
              C >= 8: per chunk of images: im2col -> GEMM -> bias + ReLU, while in cache
    backward: dz = dy * (z > 0) and db = sum dz (one pass)  ->  dW = cols^T dz (kept cols, or
              per chunk, unfolded again)  ->  per chunk: dcols = dz @ W^T -> col2im (in cache)

Why chunks (:data:`CHUNK_BYTES`): cnn32's second layer has 19 MB of patches; made whole, they go
through main memory between the GEMM and the pass that reads them. Chunks are used when BLAS
runs on one thread; with more, each small GEMM would be a fork-join of BLAS' threads, so by
default the layer keeps whole-batch GEMMs there. :data:`THREADED_CHUNKS` instead runs the chunks
and batch slices of the passes on :mod:`glassnet.fast.chunks`' threads (BLAS single-threaded
meanwhile) -- not yet measured faster on the 2-core machine (see its comment).

Pooling keeps, per output element, the offset ``i*pw + j`` of the window's winner (max pool) and
routes the gradient through it; average pooling and global average pooling are sums.

Layers call the ``*_forward`` / ``*_backward`` glue functions below through :func:`attempt`,
which turns any exception into ``glassnet.fast.mark_broken("conv", exc)`` (one
:class:`~glassnet.fast.FastPathWarning`) and the reference code for that call and after.
The glue leaves the layers' caches as the reference leaves them (``Conv2D._x``, ``act._z``,
``act._a``, and ``Conv2D._cols`` except for chunked layers, which keep no patches), so the trace,
gradcheck and diagnostics read the same state on both paths.

Numba's own threads (``prange``, :data:`PARALLEL`) stay off. Measured before the chunks (cnn32,
float32, batch 64, 2 OpenBLAS threads, ms/step, load ~3 on 2 cores): kernels on Numba's OpenMP
threads 101-109, on its ``workqueue`` threads 58-65, serial 61-64, PyTorch 60.5 -- OpenMP
workers spin after each kernel while OpenBLAS' threads run the next GEMM (and the other way round).
Single-thread CPU time per cnn32 step (load 4-5, interleaved): before the chunks 74-78 ms, with
them 56-72; cnn8 unchanged within noise (54-69 before, 59-63 after).
"""

from __future__ import annotations

import numpy as np

from . import bind_prange, chunks, jit, mark_broken

prange = range  # Numba's prange before the first compile (glassnet.fast.bind_prange)
KERNEL = "conv"  # the name in glassnet.fast.available() / mark_broken()
#: Compile the kernels with Numba threads (``prange`` over models x batch). Off: measured on the
#: 2-core machine, Numba's default OpenMP workers spin after each kernel while OpenBLAS' threads
#: run the next GEMM (and the other way round), which made a cnn32 step ~105 ms against 62 ms
#: for the same kernels on one thread (reference 72-84 ms); see the module docstring.
PARALLEL = False
#: Bytes of patches (``cols``, or ``dcols`` in the input gradient) made and used at a time: a chunk
#: should stay in cache between the GEMM and the pass that reads it (L2 512 KiB a core here, L3
#: 32 MiB). 1 image a chunk measured best single-thread; 1 MiB (3 of cnn32's 16x16x32 images)
#: makes fewer calls for the threads of glassnet.fast.chunks to share.
CHUNK_BYTES = 1024 * 1024
#: Conv2D unfolds its patches a chunk of images at a time (forward, and again for dL/dW) only from
#: this many input channels: shorter patch rows make the unfolding as costly as the GEMM.
CHUNK_MIN_CHANNELS = 8
#: With more than one BLAS thread: True runs the chunks and the whole-batch passes on
#: glassnet.fast.chunks' threads (BLAS single-threaded meanwhile); False (the default) keeps the
#: whole-batch GEMMs on BLAS' own threads and the passes on one thread, as before the chunks.
#: Measured cnn32, 2 threads, interleaved, the one quiet-ish sample (load ~3.9): chunks on threads
#: 78 ms/step (CPU 142) against 40 (CPU 79) without; each small GEMM forked across OpenBLAS' 2
#: threads instead was 2.5-5x slower than one large GEMM under load. One BLAS thread: chunks always.
THREADED_CHUNKS = False
FAILED = object()  # what attempt() returns when the fast path gave up (None is a valid result)




def attempt(fn, *args):
    """``fn(*args)``; on any exception mark the conv kernels broken (one warning) and return FAILED."""
    try:
        bind_prange(globals())
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - a fast path never raises: the reference takes over
        mark_broken(KERNEL, exc)
        return FAILED


# -- kernels (plain loops; Numba compiles them, parallel over models x batch [x rows]) -----------
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
def _bias_act(z, b, use_bias, relu, a):
    """Per sample: z += b (in place, if use_bias); a = max(z, 0) (if relu). z, a ``(M, B, R, F)``."""
    M, B, R, F = z.shape
    for t in prange(M * B):
        m, s = t // B, t % B
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
def _relu_backward(dy, z, dz, partial):
    """dz = dy * (z > 0) (the reference's product: inf or NaN in dy survive as NaN); partial[m, s]
    = sum over the sample's rows of dz (the bias gradient before the sum over the batch)."""
    M, B, R, F = dz.shape
    for t in prange(M * B):
        m, s = t // B, t % B
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
    position and offset inside x, from dx = 0. One image per thread (no two threads write the
    same element); dcols is read in order, the few rows of dx it feeds stay in cache."""
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


@jit(parallel=PARALLEL)
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


@jit(parallel=PARALLEL)
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
def _relu_layer(act):
    """Whether ``act`` is the plain ReLU activation layer (the one fused into the convolution)."""
    from ..activations import ReLU  # noqa: PLC0415 - glassnet.fast stays light to import
    from ..layers.activation import Activation  # noqa: PLC0415

    return type(act) is Activation and type(act.fn) is ReLU


def conv2d_patches(layer, x, train):
    """Conv2D's ``cols`` ``(L, B*Ho*Wo, kh*kw*C)`` for ``x`` ``(L, B, H, W, C)``, as
    ``Conv2D._patches`` (the training buffer ``layer._buf`` is reused the same way)."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    Ho, Wo, _ = layer.output_shape
    L, B, C = x.shape[0], x.shape[1], x.shape[-1]
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and layer._pads == ((0, 0), (0, 0)):
        return np.ascontiguousarray(x).reshape(L, B * Ho * Wo, C)
    shape = (L, B, Ho, Wo, kh, kw * C)  # the reference's buffer shape: the two paths share it
    cols = layer._buf if train else None
    if cols is None or cols.shape != shape or cols.dtype != x.dtype:
        cols = np.empty(shape, x.dtype)
    (pt, _), (pl, _) = layer._pads
    x, cols7 = np.ascontiguousarray(x), cols.reshape(L, B, Ho, Wo, kh, kw, C)
    _by_images(L, B, lambda l, lo, hi: _im2col(_rows(x, l, lo, hi), sh, sw, pt, pl, _rows(cols7, l, lo, hi)))
    if train:
        layer._buf = cols
    return cols.reshape(L, B * Ho * Wo, kh * kw * C)


def _images_per_chunk(layer, x):
    """Images whose patches are unfolded and multiplied at a time, or 0 for all at once.

    Chunks when the patches of the whole batch would not fit :data:`CHUNK_BYTES` and the patch
    rows are long (``C >= CHUNK_MIN_CHANNELS``): then backward unfolds each chunk again for dL/dW,
    which is cheap, instead of keeping the large ``cols``. Measured single-thread (cnn32's second
    layer, 16x16x32 -> 64 filters, batch 64): forward 14.7 -> 9.5 ms, dL/dW 14.1 -> 9.8 ms with
    one image a chunk. With 3 channels (cnn32's first layer) unfolding costs as much as the
    GEMM, so the patches are kept (chunked: forward 5.6 -> 6.3 ms, dL/dW 3.7 -> 7.5 ms).
    """
    (kh, kw), (Ho, Wo, _), C = layer.kernel_size, layer.output_shape, x.shape[-1]
    if C < CHUNK_MIN_CHANNELS or (kh, kw, *layer.strides) == (1, 1, 1, 1):
        return 0
    G = max(1, CHUNK_BYTES // (Ho * Wo * kh * kw * C * x.itemsize))
    return G if G < x.shape[1] and _chunking() else 0


def _run(work, n):
    """``work(i)`` for i < n: on glassnet.fast.chunks' threads (:data:`THREADED_CHUNKS`), else in
    order on this thread (BLAS keeping its own threads)."""
    if THREADED_CHUNKS:
        chunks.run(work, n)
    else:
        for i in range(n):
            work(i)


def _chunking():
    """Whether layers work a chunk of images at a time: on one BLAS thread, or with the chunks on
    glassnet.fast.chunks' threads (:data:`THREADED_CHUNKS`)."""
    return THREADED_CHUNKS or chunks.threads() <= 1


def _chunk_list(L, B, G):
    """``(l, s, g)`` for every chunk: images ``s:s+g`` of input stack ``l``."""
    return [(l, s, min(G, B - s)) for l in range(L) for s in range(0, B, G)]


def _by_images(L, B, call):
    """``call(l, lo, hi)`` for pieces of the batch that cover every ``(l, image)``: one call for
    everything on one thread, else each stack's batch cut into one piece a thread
    (:func:`glassnet.fast.chunks.run`). Slices ``a[l:l+1, lo:hi]`` of contiguous arrays stay
    contiguous, so the kernels see the layout they were compiled for."""
    T = min(chunks.threads(), B)
    if T <= 1 or not THREADED_CHUNKS:
        call(None, 0, B)
        return
    cuts = [B * t // T for t in range(T + 1)]
    todo = [(l, cuts[t], cuts[t + 1]) for l in range(L) for t in range(T)]
    _run(lambda i: call(*todo[i]), len(todo))


def _rows(a, l, lo, hi):
    """``a[l:l+1, lo:hi]`` (``a`` itself for l None: the whole array in one call); a stack of
    length 1 (an input shared by all models) serves every l."""
    if l is None:
        return a
    k = 0 if a.shape[0] == 1 else l
    return a[k:k + 1, lo:hi]


def _unfold(layer, x, l, s, g):
    """The patches ``(g*Ho*Wo, kh*kw*C)`` of images ``s:s+g`` of input stack ``l`` (a new buffer:
    chunks run on several threads)."""
    (kh, kw), (sh, sw), (Ho, Wo, _) = layer.kernel_size, layer.strides, layer.output_shape
    (pt, _), (pl, _) = layer._pads
    C = x.shape[-1]
    part = np.empty((1, g, Ho, Wo, kh, kw, C), x.dtype)
    _im2col(x[l, s:s + g][None], sh, sw, pt, pl, part)
    return part.reshape(g * Ho * Wo, kh * kw * C)


def conv2d_forward(layer, x, train):
    """Conv2D.forward: patches, GEMM, then bias and ReLU in one pass -- for the whole batch, or a
    chunk of images at a time while the chunk's patches and outputs are in cache."""
    if x.ndim == 4:
        x = x[None]
    x = np.ascontiguousarray(x)
    Ho, Wo, F = layer.output_shape
    M = layer.W.value.shape[0]
    L, B = x.shape[0], x.shape[1]
    P = Ho * Wo
    Wmat = layer.W.value.reshape(M, -1, F)
    act = layer.act
    relu = _relu_layer(act)
    b = np.ascontiguousarray(layer.b.value if layer.use_bias else np.zeros((M, F), x.dtype))
    G = _images_per_chunk(layer, x)
    if G:
        z = np.empty((M, B, P, F), x.dtype)
        a = np.empty_like(z) if relu else z
        todo = _chunk_list(L, B, G)

        def work(i):
            l, s, g = todo[i]
            cols = _unfold(layer, x, l, s, g)
            for m in (range(M) if L == 1 else (l,)):
                zc = z[m, s:s + g]
                np.matmul(cols, Wmat[m], out=zc.reshape(g * P, F))
                if layer.use_bias or relu:
                    _bias_act(zc[None], b[m:m + 1], layer.use_bias, relu, a[m, s:s + g][None])
        _run(work, len(todo))
        cols = None  # backward unfolds each chunk again
    else:
        cols = conv2d_patches(layer, x, train)
        z = np.matmul(cols, Wmat).reshape(M, B, P, F)
        a = np.empty_like(z) if relu else z
        if layer.use_bias or relu:
            _by_images(M, B, lambda m, lo, hi: _bias_act(_rows(z, m, lo, hi), b if m is None else b[m:m + 1],
                                                          layer.use_bias, relu, _rows(a, m, lo, hi)))
    layer._x, layer._cols = x, (cols if train else None)
    z = z.reshape(M, B, Ho, Wo, F)
    if relu:
        act._z, act._a = z, a.reshape(z.shape)  # what Activation.forward keeps
        return act._a
    return act.forward(z, train)


def _weight_grad(layer, dzf):
    """dL/dW ``(M, kh*kw*C, F)`` = cols^T dz, from the kept patches or chunk by chunk."""
    x = layer._x
    if layer._cols is not None or not _images_per_chunk(layer, x):
        cols = layer._cols if layer._cols is not None else conv2d_patches(layer, x, False)
        return np.matmul(cols.swapaxes(-1, -2), dzf)
    M, N, F = dzf.shape
    L, B = x.shape[0], x.shape[1]
    P = N // B
    todo = _chunk_list(L, B, _images_per_chunk(layer, x))
    parts = np.empty((len(todo), M if L == 1 else 1, layer.W.value[0].size // F, F), dzf.dtype)

    def work(i):
        l, s, g = todo[i]
        cols = _unfold(layer, x, l, s, g).T
        for k, m in enumerate(range(M) if L == 1 else (l,)):
            np.matmul(cols, dzf[m, s * P:(s + g) * P], out=parts[i, k])
    _run(work, len(todo))
    if L == 1:  # the chunks' sums in chunk order, whatever thread computed them
        return parts.sum(axis=0)
    return parts.reshape(M, -1, *parts.shape[2:]).sum(axis=1)


def conv2d_backward(layer, dy):
    """Conv2D.backward: ReLU's derivative and the bias gradient in one pass, the two weight-side
    GEMMs in BLAS, and dL/dx as GEMMs ``dz @ W^T`` folded back by :func:`_col2im` a chunk of
    images at a time (:func:`_input_grad`)."""
    act = layer.act
    M, B, Ho, Wo, F = dy.shape
    N = B * Ho * Wo
    db = None
    if _relu_layer(act) and act._z is not None:
        dz = np.empty((M, B, Ho * Wo, F), dy.dtype)
        partial = np.empty((M, B, F), dy.dtype)
        dy4 = np.ascontiguousarray(dy).reshape(dz.shape)
        z4 = np.ascontiguousarray(act._z).reshape(dz.shape)
        _by_images(M, B, lambda m, lo, hi: _relu_backward(_rows(dy4, m, lo, hi), _rows(z4, m, lo, hi),
                                                           _rows(dz, m, lo, hi), _rows(partial, m, lo, hi)))
        dzf = dz.reshape(M, N, F)
        db = partial.sum(axis=1)
    else:
        dzf = np.ascontiguousarray(act.backward(dy)).reshape(M, N, F)
    layer.W.grad = _weight_grad(layer, dzf).reshape(layer.W.value.shape)
    if layer.use_bias:
        layer.b.grad = db if db is not None else np.matmul(np.ones((1, N), dzf.dtype), dzf)[:, 0]
    if not layer.need_input_grad:
        return None
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    H, W, C = layer.input_shape
    (pt, _), (pl, _) = layer._pads
    Wt = layer.W.value.reshape(M, kh * kw * C, F).swapaxes(-1, -2)  # (M, F, kh*kw*C), a view
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and layer._pads == ((0, 0), (0, 0)):
        return np.matmul(dzf, Wt).reshape(M, B, H, W, C)
    dx = np.empty((M, B, H, W, C), dy.dtype)
    _input_grad(dzf.reshape(M, B, Ho, Wo, F), Wt, (kh, kw, sh, sw, pt, pl), dx)
    return dx


def _input_grad(dz, Wt, geometry, dx):
    """dx ``(M, B, H, W, C)`` = col2im(dz @ W^T) for dz ``(M, B, Ho, Wo, F)``, Wt ``(M, F, kh*kw*C)``,
    a few images at a time, so that each chunk of ``dcols`` is still in cache when col2im reads it.

    Why chunks: the whole ``dcols`` at once (cnn32's second layer: 16384 x 288 floats, 19 MB) is
    written to main memory by the GEMM and read back by col2im; single-thread CPU time of that
    GEMM + col2im was 18.4 ms, one image at a time 10.2 ms (8 images 12.4, 16 images 13.5).
    """
    kh, kw, sh, sw, pt, pl = geometry
    M, B, Ho, Wo, F = dz.shape
    C = dx.shape[-1]
    K = Wt.shape[-1]
    per_image = Ho * Wo * K * dz.itemsize
    G = max(1, min(B, CHUNK_BYTES // per_image)) if _chunking() else B
    dz = dz.reshape(M, B * Ho * Wo, F)
    todo = _chunk_list(M, B, G)

    def work(i):
        m, s, g = todo[i]
        part = np.matmul(dz[m, s * Ho * Wo:(s + g) * Ho * Wo], Wt[m])
        _col2im(part.reshape(1, g, Ho, Wo, kh, kw, C), sh, sw, pt, pl, dx[m, s:s + g][None])
    _run(work, len(todo))


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
    _global_avg_forward(x5, y)
    return y if x.ndim == 5 else y[0]


def global_avg_backward(layer, dy):
    H, W, C = layer.input_shape
    dy3 = np.ascontiguousarray(dy if dy.ndim == 3 else dy[None])
    dx = np.empty(dy3.shape[:2] + (H, W, C), dy.dtype)
    _global_avg_backward(dy3, dy.dtype.type(1.0 / (H * W)), dx)
    return dx if dy.ndim == 3 else dx[0]
