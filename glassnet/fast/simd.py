"""256-bit vectors in Numba kernels: the few operations the LSTM's and the convolutions' register
tiles are written with (:mod:`glassnet.fast.lstm_products`, :mod:`glassnet.fast.tiles`).

Why: Numba compiles loops with LLVM's loop vectorizer only (its SLP vectorizer, which would pack
straight-line scalar code, is off by default: ``NUMBA_SLP_VECTORIZE``, process-wide), and that
vectorizes the innermost loop alone. A matrix product whose innermost loop runs over the batch
keeps its sums in memory: each pass loads and stores a row of the result, and with B = 32 the loop
runs 4 vector iterations between its set-up costs (alias checks, broadcasts). Measured in the
``lstm16`` shape, ``(64, 24) @ (24, 32)`` float32: 19 GFLOP/s, a third of what one core does in a
large sgemm (69). With an explicit vector type a kernel can keep a tile of the result in registers
for the whole sum (:mod:`glassnet.fast.lstm_products`): 3.3 -> 1.3 ms for 800 such products.

The type ``Vec(dtype)`` is an LLVM ``<8 x float>`` (float32) or ``<4 x double>`` (float64): one
AVX register. Operations (each compiles to one or two instructions; arithmetic is IEEE, element
by element, so a kernel's numbers depend only on the order it writes)::

    lanes(a)          8 for a float32 array, 4 for float64 (a compile-time constant)
    load(a, i, j)     a[i, j:j + lanes(a)] of a 2-D array contiguous along its last axis
    store(a, i, j, v) a[i, j:j + lanes(a)] = v
    splat(a, x)       x in every lane (the vector type of a's dtype)
    fma(x, y, z)      x * y + z lane by lane, one rounding (llvm.fma); also on three scalars,
                      so that a kernel's scalar tail rounds as its lanes do
    total(v)          the sum of the lanes: ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))

No bounds are checked (as Numba's own indexing): the callers loop over whole vectors only and do
the remaining columns with scalar code. Imported only with Numba present (by the product modules).
Numba's disk cache checks only a kernel's own file: after editing this module, clear
``glassnet/fast/__pycache__`` (or touch the modules that import it) so the kernels recompile.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model


class Vec(types.Type):
    """An AVX register of float32 (8 lanes) or float64 (4 lanes)."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = 8 if dtype == types.float32 else 4
        super().__init__(name=f"Vec({dtype})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = ir.FloatType() if fe_type.dtype == types.float32 else ir.DoubleType()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def _check_array(a):
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.dtype in (types.float32, types.float64)):
        raise TypeError(f"expected a 2-D float32 or float64 array, got {a}")


def _vector_pointer(context, builder, arrty, arr, i, j):
    """The address of ``arr[i, j]`` as a pointer to a vector (no wraparound, no bounds check)."""
    ary = context.make_array(arrty)(context, builder, arr)
    ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [i, j], wraparound=False)
    return builder.bitcast(ptr, context.get_value_type(Vec(arrty.dtype)).as_pointer())


@intrinsic
def lanes(typingctx, a):
    _check_array(a)
    n = Vec(a.dtype).lanes

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)
    return types.intp(a), codegen


@intrinsic
def load(typingctx, a, i, j):
    _check_array(a)

    def codegen(context, builder, sig, args):
        i_, j_ = (context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:]))
        ptr = _vector_pointer(context, builder, sig.args[0], args[0], i_, j_)
        return builder.load(ptr, align=sig.args[0].dtype.bitwidth // 8)
    return Vec(a.dtype)(a, i, j), codegen


@intrinsic
def store(typingctx, a, i, j, v):
    _check_array(a)
    if v != Vec(a.dtype):
        raise TypeError(f"store: {v} into an array of {a.dtype}")

    def codegen(context, builder, sig, args):
        i_, j_ = (context.cast(builder, x, t, types.intp) for x, t in zip(args[1:3], sig.args[1:3]))
        builder.store(args[3], _vector_pointer(context, builder, sig.args[0], args[0], i_, j_),
                      align=sig.args[0].dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(a, i, j, v), codegen


@intrinsic
def splat(typingctx, a, x):
    _check_array(a)
    vt = Vec(a.dtype)

    def codegen(context, builder, sig, args):
        llvt = context.get_value_type(vt)
        scalar = context.cast(builder, args[1], sig.args[1], vt.dtype)
        one = builder.insert_element(ir.Constant(llvt, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, ir.Constant(llvt, ir.Undefined),
                                      ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes))
    return vt(a, x), codegen


@intrinsic
def fma(typingctx, x, y, z):
    if not (x == y == z and (isinstance(x, Vec) or x in (types.float32, types.float64))):
        raise TypeError(f"fma needs three vectors, or three floats, of one type, got {x}, {y}, {z}")

    def codegen(context, builder, sig, args):
        t = args[0].type
        elem = t.element if isinstance(t, ir.VectorType) else t
        shape = f"v{t.count}" if isinstance(t, ir.VectorType) else ""
        name = f"llvm.fma.{shape}{'f32' if isinstance(elem, ir.FloatType) else 'f64'}"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(t, [t, t, t]), name)
        return builder.call(fn, list(args))
    return x(x, y, z), codegen


@intrinsic
def total(typingctx, v):
    if not isinstance(v, Vec):
        raise TypeError(f"total needs a vector, got {v}")

    def codegen(context, builder, sig, args):
        parts = [args[0]]
        n = sig.args[0].lanes
        while n > 1:  # halves added lane by lane: v[:n/2] + v[n/2:], a fixed order
            n //= 2
            vt = ir.VectorType(parts[0].type.element, n)
            mask = ir.VectorType(ir.IntType(32), n)
            lo = builder.shuffle_vector(parts[0], parts[0], ir.Constant(mask, list(range(n))))
            hi = builder.shuffle_vector(parts[0], parts[0], ir.Constant(mask, list(range(n, 2 * n))))
            parts = [builder.fadd(lo, hi)]
            assert parts[0].type == vt
        return builder.extract_element(parts[0], ir.Constant(ir.IntType(32), 0))
    return v.dtype(v), codegen
