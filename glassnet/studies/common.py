"""Small tools the studies share: grids on the model axis, reading curves, probes, timing.

A sweep of C configurations x S seeds is one ensemble of M = C*S networks, ordered
configuration-major (model ``m = c*S + s``), so ``by_config(a, C)`` turns any ``(M, ...)``
array into ``(C, S, ...)``.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..callbacks import Callback


def grid(values, seeds: int, offset: int = 0):
    """Per-model values and seeds for ``len(values)`` configurations x ``seeds`` seeds.

    Returns ``(vals, seed_list)``, both of length ``len(values) * seeds``, configuration-major:
    ``vals = [v0]*S + [v1]*S + ...``, ``seed_list = [o, o+1, .., o+S-1] * C``.
    """
    vals = [v for v in values for _ in range(seeds)]
    seed_list = [offset + s for _ in values for s in range(seeds)]
    return vals, seed_list


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def side_by_side(jobs: dict) -> dict:
    """``{name: fn()}`` for ``{name: fn}``, the calls spread over one thread per core.

    For a study's independent fits: glassnet's compiled training segments release the GIL, so
    fits on their own threads fill the cores together. List the longest job first: the threads
    take the jobs in order, each its next one when it is free (longest-first scheduling), so on
    two cores the longest fit has a core to itself while the others follow one another on the
    second. A thread per job instead would share the cores evenly among all of them and leave
    the longest fit to finish alone at the end. Each job's compiled work stays on its own thread
    (:func:`glassnet.fast.one_thread`) while the jobs fill the cores; once fewer jobs are left
    than threads, the ones still running may split their work over the idle cores again.

    Every fit is deterministic on its own, and splitting changes no number, so the results do not
    depend on the scheduling; the first exception is re-raised after all calls have ended."""
    from .. import fast  # noqa: PLC0415 - keeps the studies' import light

    workers = min(len(jobs), usable_cores())
    if workers <= 1:
        return {k: fn() for k, fn in jobs.items()}
    left, lock = [len(jobs)], threading.Lock()  # jobs not ended, the queued ones included

    def alone(fn):
        try:
            with fast.one_thread(until=lambda: left[0] < workers):
                return fn()
        finally:
            with lock:
                left[0] -= 1

    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(workers, thread_name_prefix="glassnet-study") as pool:
        futures = {k: pool.submit(alone, fn) for k, fn in jobs.items()}
    return {k: f.result() for k, f in futures.items()}


def by_config(a, n_configs: int) -> np.ndarray:
    """``(M, ...)`` -> ``(C, S, ...)`` for a configuration-major ensemble."""
    a = np.asarray(a)
    return a.reshape((n_configs, a.shape[0] // n_configs) + a.shape[1:])


def first_below(steps, curve, threshold: float):
    """The first recorded step at which ``curve < threshold``; ``None`` if it never is."""
    hit = np.flatnonzero(np.asarray(curve) < threshold)
    return int(steps[hit[0]]) if hit.size else None


def first_above(steps, curve, threshold: float):
    """The first recorded step at which ``curve >= threshold``; ``None`` if it never is."""
    hit = np.flatnonzero(np.asarray(curve) >= threshold)
    return int(steps[hit[0]]) if hit.size else None


def steps_stats(step_list):
    """Median over seeds of "step reached" values, counting ``None`` (never) as infinitely late.

    Returns ``(median or None, reached count)``: the median is ``None`` when half or more never
    reached it.
    """
    vals = np.array([np.inf if s is None else s for s in step_list], dtype=float)
    med = float(np.median(vals))
    return (None if not np.isfinite(med) else med), int(np.isfinite(vals).sum())


def final_values(curves) -> np.ndarray:
    """The last finite value of each row of ``(..., T)`` curves (NaN where none)."""
    curves = np.asarray(curves, dtype=float)
    flat = curves.reshape(-1, curves.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    for i, row in enumerate(flat):
        ok = np.isfinite(row)
        if ok.any():
            out[i] = row[ok][-1]
    return out.reshape(curves.shape[:-1])


class Probe(Callback):
    """Calls ``fn(model) -> dict of numbers/arrays`` at every logged step and stacks the results:
    ``probe.values[key]`` has one entry per logged step, ``probe.steps`` the steps.

    ``fn`` must only read the model (a forward pass in inference mode, parameters, gradients):
    the probe is then a read-only callback, which leaves a fit re-runnable from its run config."""

    #: reads the Trainer, never changes it (see :mod:`glassnet.studies.recording`)
    reads_only = True

    def __init__(self, fn):
        self.fn = fn
        self.steps: list[int] = []
        self._rows: list[dict] = []

    def on_log(self, state, logs):
        self.steps.append(state.step)
        self._rows.append(self.fn(state.model))

    @property
    def values(self) -> dict[str, np.ndarray]:
        keys = self._rows[0].keys() if self._rows else []
        return {k: np.array([r[k] for r in self._rows]) for k in keys}


def best_time(fn, repeat: int = 5, number: int = 1) -> float:
    """The fastest of ``repeat`` timings of ``number`` calls to ``fn`` (seconds per call).

    The minimum is the least disturbed by other work on a shared machine.
    """
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return float(best)


def plateau(steps, curve, min_span: float = 0.1, slope_tol: float = 0.1):
    """Where the loss curve stalls: :func:`glassnet.diagnostics.detect_plateau` (a ``Plateau``
    with ``start_step``, ``end_step``, ``level``, ``escaped``, or ``None``)."""
    from ..diagnostics import detect_plateau  # noqa: PLC0415

    return detect_plateau(np.asarray(steps), np.asarray(curve, dtype=float), min_span=min_span,
                          slope_tol=slope_tol)
