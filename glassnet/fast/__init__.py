"""The fast path: compiled kernels behind the readable layers, and the switch that turns them off.

The plain NumPy code in :mod:`glassnet.layers`, :mod:`glassnet.optimizers` and the Trainer is the
reference and the glass box. A fast kernel may replace the *inner work* of one of them only when

* it is tested equal to the reference (float64 to 1e-12, float32 within rounding; see
  ``tests/fast/``), and
* the switch is on: ``GLASSNET_FAST`` unset or ``1`` (the default), or :func:`set_enabled`
  ``(True)``. ``GLASSNET_FAST=0``, ``set_enabled(False)`` or ``with gn.fast.reference():`` run
  everything on the reference path.

Kernels are compiled with Numba (the optional extra ``glassnet[fast]``), lazily on first use, and
cached on disk (``cache=True``), so ``import glassnet`` never pays for them. If Numba is missing or
a kernel fails to compile, glassnet warns once and keeps to the reference path; it never raises.

>>> import glassnet as gn
>>> with gn.fast.reference():          # the readable NumPy path, whatever the environment says
...     pass
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings

ENV = "GLASSNET_FAST"

_enabled = os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")
_numba = None           # the module once imported; False when it could not be
_broken: set[str] = set()  # kernels that failed to compile: reference from then on


class FastPathWarning(RuntimeWarning):
    """The fast path is unavailable (Numba missing, or a kernel failed to compile); the reference
    path runs instead. Issued once per cause."""


def enabled() -> bool:
    """Whether fast kernels may run (the switch; Numba's presence is checked by :func:`numba`)."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Turn the fast path on or off for this process (``GLASSNET_FAST`` sets the start value)."""
    global _enabled
    _enabled = bool(flag)


@contextlib.contextmanager
def reference():
    """Run the enclosed code on the reference (readable NumPy) path only."""
    before = _enabled
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(before)


@contextlib.contextmanager
def forced(flag: bool = True):
    """Run the enclosed code with the switch set to ``flag`` (tests compare both paths this way)."""
    before = _enabled
    set_enabled(flag)
    try:
        yield
    finally:
        set_enabled(before)


def numba():
    """The ``numba`` module, or ``None`` (with one :class:`FastPathWarning`) if it can't be imported.

    Imported on first call only: ``import glassnet`` stays light.
    """
    global _numba
    if _numba is None:
        try:
            import numba as nb  # noqa: PLC0415 - optional and heavy: imported on first use
            _numba = nb
        except Exception as exc:  # noqa: BLE001 - any failure means "no fast path", never an error
            _numba = False
            warnings.warn(f"glassnet's fast path is off: numba could not be imported ({exc}); "
                          "install glassnet[fast] to enable it. Training runs on the reference path.",
                          FastPathWarning, stacklevel=3)
    return _numba or None


def available(kernel: str) -> bool:
    """True when the switch is on, Numba imports, and ``kernel`` has not failed to compile."""
    return _enabled and kernel not in _broken and numba() is not None


def mark_broken(kernel: str, exc: BaseException) -> None:
    """Record that ``kernel`` failed (to compile or run); warn once and use the reference from now on."""
    if kernel not in _broken:
        _broken.add(kernel)
        warnings.warn(f"glassnet's fast kernel {kernel!r} is unavailable ({type(exc).__name__}: {exc}); "
                      "the reference path runs instead.", FastPathWarning, stacklevel=3)


def bind_prange(namespace: dict) -> None:
    """Give a kernel module Numba's ``prange`` before its kernels compile.

    Kernel modules say ``prange = range`` at import, so importing them never imports Numba; Numba
    resolves globals when a kernel compiles, so this swap (in the module's ``globals()``) must come
    first. Raises RuntimeError without Numba (the callers fall back to the reference).
    """
    if namespace.get("prange") is range:
        nb = numba()
        if nb is None:
            raise RuntimeError("numba is not available")
        namespace["prange"] = nb.prange


@contextlib.contextmanager
def training_scope(model):
    """The context a training run of ``model`` runs in, when one of its layers runs pieces of the
    batch on both cores (``runs_pieces``, with its kernel available; else nothing): BLAS held on
    one thread (:func:`glassnet.fast.chunks.hold_blas`); and from then on the process keeps freed
    memory for the next step (:func:`glassnet.fast.memory.keep_freed`: such steps free tens of MB)."""
    layers = getattr(model, "layers", ())
    if not any(getattr(layer, "runs_pieces", None) and available(layer.runs_pieces) for layer in layers):
        yield
        return
    from .chunks import hold_blas  # noqa: PLC0415 - threadpoolctl only for such models
    from .memory import keep_freed  # noqa: PLC0415

    keep_freed()
    with hold_blas():
        yield


_one_thread = threading.local()  # .until: None, or when compiled work may use other threads again


@contextlib.contextmanager
def one_thread(until=None):
    """Compiled work started on this thread runs on this thread alone while the block runs: the
    segments of :mod:`glassnet.fast.loop` are not split in two (:func:`may_split`) and
    :func:`glassnet.fast.chunks.run` takes every piece itself. Other threads are not affected.
    ``until``: a function; from when it returns True, work may use other threads again (for the
    last of several jobs, once the others have ended and their cores are idle).

    For jobs that already fill the cores side by side (:func:`glassnet.studies.common.side_by_side`):
    splitting each job's segments then only adds the split's costs. Measured on the
    autoencoder-838 study's 55-model ensemble, float64, CPU per step: 45 us in one call, 52-60 us
    in two halves. The numbers do not change: every model's arithmetic is the same either way."""
    before = getattr(_one_thread, "until", None)
    _one_thread.until = until if until is not None else _never
    try:
        yield
    finally:
        _one_thread.until = before


def _never() -> bool:
    return False


def may_split() -> bool:
    """Whether compiled work started on this thread may use other threads (not in :func:`one_thread`,
    or its ``until`` has come)."""
    until = getattr(_one_thread, "until", None)
    return until is None or bool(until())


_helper_pool = None


def run_pair(fn, first: tuple, second: tuple) -> None:
    """``fn(*first)`` on a helper thread while ``fn(*second)`` runs on the calling one; returns when
    both are done and re-raises the helper's exception. For GIL-releasing kernels split in two.

    The helper thread is made once and kept: a compiled training segment can be a few hundred
    microseconds, and starting a thread pool per call cost about a quarter of the main thread's
    time in the autoencoder-838 study (10,000 segments)."""
    global _helper_pool
    if _helper_pool is None:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only for split calls

        _helper_pool = ThreadPoolExecutor(1, thread_name_prefix="glassnet-fast")
    job = _helper_pool.submit(fn, *first)
    try:
        fn(*second)
    finally:
        job.result()


def jit(**options):
    """``numba.njit(cache=True, fastmath=False, **options)`` applied lazily: the decorated function
    compiles on its first call (and only if Numba imports). ``fastmath`` stays off so results follow
    IEEE order-of-operations rules the equality tests can hold to."""
    def wrap(fn):
        compiled = None

        def call(*args):
            nonlocal compiled
            if compiled is None:
                nb = numba()
                if nb is None:
                    raise RuntimeError("numba is not available")
                compiled = nb.njit(cache=True, **options)(fn)
            return compiled(*args)

        call.__name__ = fn.__name__
        call.__qualname__ = fn.__qualname__
        call.__doc__ = fn.__doc__
        call.py_func = fn
        return call
    return wrap


__all__ = ["ENV", "FastPathWarning", "available", "bind_prange", "enabled", "forced", "jit", "mark_broken", "may_split",
           "numba", "one_thread", "reference", "run_pair", "set_enabled", "training_scope"]
