"""exp, sigmoid and tanh inside a compiled loop: libm's scalar calls vs glassnet.fast.elementwise.

Numba calls libm once per element for ``np.exp``/``np.tanh`` (no SVML in pip's llvmlite), which
keeps a loop over models scalar; ``glassnet.fast.elementwise`` is arithmetic only, so the loop
vectorizes. NumPy's own ufuncs (SIMD, but one pass over memory per operation) are shown for scale.
Prints ns per element, the best of ``--repeats`` blocks, float64, 4,096 normal(0, 5) values, and
each implementation's speed-up over the libm loop measured in the same run.

Run from the repository root: ``python benchmarks/vector_math.py [--repeats 15]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    from numba import njit

    from glassnet.fast.elementwise import vexp, vsigmoid, vtanh

    def loop(fn):
        @njit(error_model="numpy")
        def run(z, out):
            for m in range(z.shape[0]):
                out[m] = fn(z[m])
        return run

    @njit(inline="always")
    def libm_sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z))

    @njit(inline="always")
    def libm_exp(z):
        return np.exp(z)

    @njit(inline="always")
    def libm_tanh(z):
        return np.tanh(z)

    def numpy_sigmoid(z, out):
        np.negative(z, out=out)
        np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)

    cases = {
        "exp": {"libm loop": loop(libm_exp), "elementwise loop": loop(vexp),
                "numpy ufunc": lambda z, out: np.exp(z, out=out)},
        "sigmoid": {"libm loop": loop(libm_sigmoid), "elementwise loop": loop(vsigmoid),
                    "numpy ufuncs": numpy_sigmoid},
        "tanh": {"libm loop": loop(libm_tanh), "elementwise loop": loop(vtanh),
                 "numpy ufunc": lambda z, out: np.tanh(z, out=out)},
    }
    z = np.random.default_rng(0).normal(0, 5, 4096)
    out = np.empty_like(z)
    best = {(c, k): np.inf for c, impls in cases.items() for k in impls}
    for impls in cases.values():
        for fn in impls.values():
            fn(z, out)  # compile
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every variant alike
        for c, impls in cases.items():
            for k, fn in impls.items():
                t = time.perf_counter()
                for _ in range(100):
                    fn(z, out)
                best[c, k] = min(best[c, k], (time.perf_counter() - t) / 100 / z.size * 1e9)
    print(f"{'function':8s} {'implementation':18s} ns/element  speed-up vs the libm loop (same run)")
    for (c, k), v in best.items():
        print(f"{c:8s} {k:18s} {v:10.2f}  {best[c, 'libm loop'] / v:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
