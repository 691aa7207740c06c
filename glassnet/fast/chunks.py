"""Run independent chunks of work (each a small GEMM plus compiled passes) on a few threads.

Why not let BLAS thread each small GEMM: the image kernels (:mod:`glassnet.fast.conv`) run a
layer a piece of the batch at a time (patches, GEMM, bias + ReLU) so that the patches stay in
cache; with OpenBLAS' own 2 threads each of those
~100 us GEMMs is a fork-join, and on the shared 2-core machine (load 5-7) a cnn32 step went from
~300 ms (one large GEMM) to 750-1500 ms (64 small ones), the two BLAS threads waiting for each
other at every call. Here instead each thread takes whole chunks from a shared counter (a thread
that is descheduled delays only its own chunk) while BLAS runs single-threaded in each of them.

Threads: as many as BLAS had (``threadpoolctl``; the user's ``OPENBLAS_NUM_THREADS`` or
``threadpool_limits`` therefore set this too), the calling thread being one of them. BLAS is
limited to one thread for the duration of :func:`run` -- process-wide, so a BLAS call made by
another Python thread at that moment also runs on one thread. The chunk functions must release
the GIL for the threads to overlap: NumPy's matmul does, and so do kernels compiled ``nogil``.
"""

from __future__ import annotations

import contextlib
import itertools
from concurrent.futures import ThreadPoolExecutor

from .. import fast

_controller = None  # threadpoolctl's view of the BLAS libraries (built once: it scans the process)
_executor = None
_executor_size = 0
_held = 0  # while hold_blas() keeps BLAS on one thread: the threads it had (what run() uses)


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only when chunks run

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def threads() -> int:
    """Threads a :func:`run` would use: the largest BLAS thread count in the process (>= 1), or the
    one it had before :func:`hold_blas`; 1 inside :func:`glassnet.fast.one_thread`."""
    if not fast.may_split():
        return 1
    return _held or max([lib.num_threads for lib in _blas().lib_controllers] + [1])


@contextlib.contextmanager
def hold_blas():
    """BLAS on one thread for the whole block, while :func:`run` keeps its threads.

    For a training run whose image layers run their pieces here: the other products of a step
    (a Dense layer after the convolutions) would otherwise run on BLAS' own threads, and after
    each such call OpenBLAS' worker spins for ~0.1 s (measured: 0.107 s of CPU during a 0.3 s
    sleep after one 2-thread GEMM, none after a 1-thread one), taking a core from the next
    layer's pieces. Nested holds do nothing; process-wide, as :func:`run`'s own limit."""
    global _held
    n = 0 if _held else threads()
    if n <= 1:
        yield
        return
    with _blas().limit(limits=1):
        _held = n
        try:
            yield
        finally:
            _held = 0


def _pool(size):
    global _executor, _executor_size
    if _executor is None or _executor_size < size:
        if _executor is not None:
            _executor.shutdown(wait=False)
        _executor, _executor_size = ThreadPoolExecutor(size, thread_name_prefix="glassnet-chunks"), size
    return _executor


def run(work, n: int) -> None:
    """``work(i)`` for every ``i in range(n)``, in any order, on :func:`threads` threads with BLAS
    single-threaded meanwhile; exceptions propagate (after all threads have stopped)."""
    T = min(n, threads())
    if T <= 1:
        for i in range(n):
            work(i)
        return
    counter = itertools.count()  # next() is atomic under the GIL: each index is taken once

    def loop():
        for i in counter:
            if i >= n:
                return
            work(i)

    # BLAS to one thread for the call -- unless hold_blas() already keeps it there (a training
    # run): threadpoolctl's limit costs ~11 us, twice a step in the LSTM kernels
    with contextlib.nullcontext() if _held else _blas().limit(limits=1):
        helpers = [_pool(T - 1).submit(loop) for _ in range(T - 1)]
        try:
            loop()
        finally:
            for h in helpers:
                h.exception()  # wait for every helper before BLAS gets its threads back
        for h in helpers:
            h.result()
