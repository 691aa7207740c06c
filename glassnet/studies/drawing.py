"""Drawing a report's figures, several at once.

matplotlib holds the GIL while it lays out and rasterizes, so threads do not draw two figures
at once; processes do. A study's figures are closures over its measurements, which cannot be
pickled, so the workers are *forked* after the figures are known: each inherits them and draws
its share, writing each PNG under a temporary name and renaming it. Where ``fork`` is not available (Windows, or one worker) they are drawn here, one
after another; the files are the same either way.

Measured on the 2-core machine, the autoencoder-838 study's 8 figures: ~10 s one after another
(constrained layout and tick labels are most of it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Callable

from .common import usable_cores


def workers_for(n_figures: int) -> int:
    """Processes worth starting for ``n_figures``: the usable cores, at most 4, at most one per
    figure (``GLASSNET_FIGURE_WORKERS`` overrides: 1 draws in this process)."""
    env = os.environ.get("GLASSNET_FIGURE_WORKERS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return min(int(env), max(n_figures, 1))
    return max(1, min(usable_cores(), 4, n_figures))


def draw_all(jobs: list[tuple[Path, Callable, tuple]], save: Callable, workers: int | None = None) -> None:
    """``save(path, draw, size)`` for every job; in ``workers`` forked processes (worker ``w``
    draws jobs ``w, w + workers, ...``) when there is more than one figure and the platform forks.
    The first figure that fails raises its exception here, after every worker has ended."""
    if not jobs:
        return
    workers = workers_for(len(jobs)) if workers is None else workers
    if workers <= 1 or "fork" not in mp.get_all_start_methods():
        for job in jobs:
            save(*job)
        return
    _warm_up()
    ctx = mp.get_context("fork")
    errors = ctx.SimpleQueue()
    # a forked child inherits its arguments (closures included): nothing is pickled on the way in
    procs = [ctx.Process(target=_draw_share, args=(save, jobs[w::workers], errors), daemon=True)
             for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    if failures:
        raise failures[0]
    dead = [p.exitcode for p in procs if p.exitcode != 0]
    if dead:
        raise RuntimeError(f"a figure-drawing worker ended with exit code {dead[0]}; "
                           "GLASSNET_FIGURE_WORKERS=1 draws the figures in this process")


def _draw_share(save: Callable, jobs: list, errors) -> None:
    """A worker's figures, one after another; its first failure goes back to the parent."""
    try:
        for job in jobs:
            save(*job)
    except Exception as exc:  # noqa: BLE001 - every failure is re-raised in the parent
        try:
            errors.put(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            errors.put(RuntimeError(f"{type(exc).__name__}: {exc}"))


def _warm_up() -> None:
    """Import matplotlib and draw some text once here, so each forked worker inherits the loaded
    modules and font cache instead of building them again (about a second per worker)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(1, 1), layout="constrained")
    fig.add_subplot().set_title("warm-up")
    FigureCanvasAgg(fig).draw()
