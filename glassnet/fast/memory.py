"""Keep freed memory in the process once it trains image or sequence layers on the fast path.

Why: a CNN step allocates and frees tens of megabytes of arrays (every layer's output and
gradient). glibc's malloc hands large freed blocks back to the operating system (blocks above
``M_MMAP_THRESHOLD`` are unmapped, free memory above ``M_TRIM_THRESHOLD`` at the heap's top is
trimmed), so the next step gets fresh pages, which the kernel zeroes on first touch. cnn8 (8 CNNs
on the model axis, batch 64, 2 threads) took 400-500 page faults and 3-5 ms of system time a
step. After :func:`keep_freed` blocks up to 64 MiB come from the heap and up to 256 MiB of free
heap is kept for the next step: no page faults, and a step's wall-time median 28.1-30.8 ms against
30.7-31.6 (three alternating pairs of processes, quiet machine, 2026-11-30 13:02 UTC), peak RSS
234 against 232 MiB. The setting is for the rest of the process: undoing it at the end of each
``fit`` (thresholds back, ``malloc_trim``) gave the pages back between the benchmark's fits and
most of the faults with them (280-410 a step).

The cost: a process that trained such a model keeps up to 256 MiB of freed memory for reuse
instead of returning it. Where malloc is not glibc's (macOS, Windows, musl) nothing is done.
"""

from __future__ import annotations

import ctypes
import threading

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
KEEP_MMAP_BYTES = 64 << 20
KEEP_TRIM_BYTES = 256 << 20

_libc = None          # the C library once looked up; False where it is not glibc
_kept = False         # whether keep_freed() has set the thresholds
_lock = threading.Lock()


def _glibc():
    """The process's C library when it is glibc (it has ``mallopt``), else None."""
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(None)
            lib.gnu_get_libc_version  # noqa: B018 - glibc only: musl has mallopt but not this
            lib.mallopt.argtypes, lib.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def keep_freed() -> bool:
    """From now on, freed blocks up to :data:`KEEP_MMAP_BYTES` stay in the process (see the module).
    Once per process; returns whether the setting is in force (False where malloc is not glibc's)."""
    global _kept
    with _lock:
        if not _kept:
            libc = _glibc()
            if libc is None:
                return False
            mmap_set = libc.mallopt(M_MMAP_THRESHOLD, KEEP_MMAP_BYTES) == 1  # mallopt: 1 on success
            trim_set = libc.mallopt(M_TRIM_THRESHOLD, KEEP_TRIM_BYTES) == 1
            _kept = mmap_set and trim_set
        return _kept
