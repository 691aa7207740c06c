"""Plateaus on a loss curve: where the loss stops falling for a while, and where it resumes.

The rule, in log-loss (so a plateau at 0.44 and one at 1e-3 are judged alike), with steps
measured in units of the whole run, ``u = (step - first) / (last - first)``:

1. ``y = log(loss)`` (non-finite and non-positive points dropped), smoothed by a centred moving
   average of ``window`` points (default: half of ``min_span`` of the curve, at least 5), which
   irons out minibatch noise.
2. The slope at each point is a central difference of the smoothed curve over ``window`` points:
   ``r = dy/du``, the change in log-loss the whole run would see at that pace.
3. A point is *flat* when ``|r| < slope_tol * max(D, 1)``, where ``D`` is the curve's total drop
   (smoothed start minus smoothed minimum, in log units). Default ``slope_tol`` 0.1: the loss
   falls at less than a tenth of the pace it needs overall (and, for curves that barely fall,
   by less than ~10% over the whole run).
4. A plateau is a run of consecutive flat points that starts after the smoothed loss has already
   dropped ``min_drop`` (default 0.05, ~5%) below its start — the loss must have been falling
   before it stalls; ``min_drop=0`` also accepts a curve flat from the start — and spans at least
   ``min_span`` of the run (default 10%).
5. The longest plateau is reported: first and last step, level (median loss on it), and whether
   the smoothed loss later fell ``max(min_drop, 0.05)`` below that level (``escaped``).

A steadily falling curve (exponential, 1/t decay over a few decades) keeps ``|r|`` near or above
its average pace ``D`` and never qualifies; the tail of a very long 1/t curve (many decades)
does, and rightly reads as a slow crawl.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GlassnetError


@dataclass
class Plateau:
    """A flat stretch of a loss curve: steps ``start_step``..``end_step``, median loss ``level``,
    and ``escaped`` (the loss fell by the drop threshold after it)."""

    start_step: int
    end_step: int
    level: float
    escaped: bool = False

    @property
    def length(self) -> int:
        return self.end_step - self.start_step


def _smooth(y: np.ndarray, w: int) -> np.ndarray:
    if w <= 1:
        return y
    pad = w // 2
    yp = np.concatenate([np.full(pad, y[0]), y, np.full(w - 1 - pad, y[-1])])
    c = np.cumsum(np.concatenate([[0.0], yp]))
    return (c[w:] - c[:-w]) / w


def detect_plateau(steps, loss, *, slope_tol: float = 0.1, min_span: float = 0.1,
                   min_drop: float = 0.05, window: int | None = None):
    """Find the longest plateau of a loss curve (rule in the module docstring).

    Parameters
    ----------
    steps : ``(T,)`` increasing step numbers (``history.steps``).
    loss : ``(T,)`` one curve, or ``(M, T)`` one per model.

    Returns
    -------
    Plateau or None for one curve; a list of them (one per model) for ``(M, T)``.
    """
    steps = np.asarray(steps, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim == 2:
        return [detect_plateau(steps, row, slope_tol=slope_tol, min_span=min_span,
                               min_drop=min_drop, window=window) for row in loss]
    if loss.ndim != 1 or steps.shape != loss.shape:
        raise GlassnetError(f"steps and loss must be (T,) and (T,) or (M, T); got {steps.shape} and {loss.shape}")
    if not (slope_tol > 0 and 0 < min_span <= 1 and min_drop >= 0):
        raise GlassnetError("detect_plateau needs slope_tol > 0, 0 < min_span <= 1 and min_drop >= 0; "
                            f"got {slope_tol!r}, {min_span!r}, {min_drop!r}")
    ok = np.isfinite(loss) & (loss > 0)
    steps, loss = steps[ok], loss[ok]
    T = loss.size
    if T < 6 or steps[-1] <= steps[0]:
        return None
    n = int(window or max(5, round(min_span * T / 2)))
    if not 3 <= n <= T:
        raise GlassnetError(f"window must be between 3 and the curve length {T}, got {n}")
    u = (steps - steps[0]) / (steps[-1] - steps[0])
    ys = _smooth(np.log(loss), n)
    h = max(1, n // 2)
    idx = np.arange(T)
    lo, hi = np.maximum(idx - h, 0), np.minimum(idx + h, T - 1)
    r = (ys[hi] - ys[lo]) / (u[hi] - u[lo])
    total_drop = ys[0] - ys.min()
    flat = np.abs(r) < slope_tol * max(total_drop, 1.0)
    dropped = ys <= ys[0] - min_drop if min_drop > 0 else np.ones(T, dtype=bool)
    best = None
    i = 0
    while i < T:
        if not flat[i]:
            i += 1
            continue
        j = i
        while j + 1 < T and flat[j + 1]:
            j += 1
        s = i
        while s <= j and not dropped[s]:  # a plateau begins once the initial drop has happened
            s += 1
        if s <= j and u[j] - u[s] >= min_span and (best is None or u[j] - u[s] > u[best[1]] - u[best[0]]):
            best = (s, j)
        i = j + 1
    if best is None:
        return None
    s, j = best
    level = float(np.median(loss[s:j + 1]))
    escaped = bool(j + 1 < T and ys[j + 1:].min() <= np.log(level) - max(min_drop, 0.05))
    return Plateau(int(steps[s]), int(steps[j]), level, escaped)

