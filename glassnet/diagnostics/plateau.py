"""Plateaus on a loss curve: where the loss stalls for a while, and then falls again.

A plateau is a *stall between falls*: a long stretch over which the loss hardly moves, which the
loss then leaves by falling clearly faster than it moved on the stretch. The rule, in log-loss (so
a plateau at 0.44 and one at 1e-3 are judged alike), with steps measured in units of the whole
run, ``u = (step - first) / (last - first)``:

1. ``y = log(loss)`` (non-finite and non-positive points dropped), smoothed by a centred running
   *median* of ``2h + 1`` points (the window shrinks symmetrically at both ends). A median irons
   out minibatch noise but keeps a sudden drop sharp, where a running mean would smear a cliff
   into the flat stretch beside it. Default ``h``: a quarter of ``min_span`` of the points (at
   least 2), widened until the point-to-point noise of ``y`` (``1.4826 MAD / sqrt 2`` of its
   successive differences) moves a measured slope by at most a quarter of the bound below (one
   standard deviation), but never beyond a quarter of the curve. ``window=n`` fixes ``h = n // 2``.
2. The *bound* is ``slope_tol * max(R, 1)``, ``R`` the range of the smoothed log-loss (highest
   minus lowest): the pace, in log-loss per run, of a curve that crosses its whole plot, times
   ``slope_tol`` (default 0.2).
3. A point is *flat* when the smoothed curve moves at less than the bound over ``h`` points on
   either side, or over the ``h`` points after it, or over the ``h`` points before it: at the
   foot of a cliff the centred difference still sees the cliff, the side looking away from it
   does not.
4. Consecutive flat points form a stretch; two stretches between which the smoothed loss moves
   less than ``min_drop`` (log units; default 0.05, about 5%) are one: a blip of noise does not
   split a plateau in two.
5. A stretch is a **plateau** when it spans at least ``min_span`` of the run (default 5%) and
   the loss *escapes* it: after its last point (before the next stretch, and before the last
   ``h`` points, whose medians rest on ever shorter windows) the smoothed loss gets ``min_drop``
   below both the stretch's level and its last value, at an average pace from that last point of
   at least ``ESCAPE_PACE`` (2) times the bound once the noise of two medians (two standard
   deviations) is discounted. A curve crawling down at about the bound has no such fall, so the
   slow tail of a converging run is never cut into plateaus.
6. A stretch that the loss never leaves (the last one, with nothing ``min_drop`` below it after
   it) is a plateau only with ``until_end=True`` (then ``escaped=False`` and it ends at the last
   step): from the curve alone a stall that is never left cannot be told from convergence to a
   minimum, so by default the convergence tail is never reported as a plateau.
7. A plateau's level is the median loss on it. :func:`detect_plateaus` returns every plateau in
   order; :func:`detect_plateau` the longest.

Consequences: a steadily falling curve (exponential, 1/t or a slow power law over a few decades,
with or without noise) has none; a curve that falls and then levels off has none either (its
tail is not left); a loss that is flat from the very first step and then falls does have one (a
stall at initialization); two stalls give two plateaus. Plateaus shorter than ``min_span`` are
not reported; the noisier the curve, the wider the median window and the coarser the edges found
(a per-step batch-1 loss is best replaced by the full-set loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GlassnetError

#: a plateau is left by a fall at least this many times steeper than the flatness bound
ESCAPE_PACE = 2.0


@dataclass
class Plateau:
    """A flat stretch of a loss curve: steps ``start_step``..``end_step``, median loss ``level``,
    and ``escaped`` (the loss fell clearly below it afterwards; ``False`` only for a stall that
    lasts to the end, reported with ``until_end=True``)."""

    start_step: int
    end_step: int
    level: float
    escaped: bool = False

    @property
    def length(self) -> int:
        return self.end_step - self.start_step


def _running_median(y: np.ndarray, h: int) -> np.ndarray:
    """Centred median over ``2h + 1`` points; the window shrinks symmetrically at the ends."""
    from scipy.ndimage import median_filter  # noqa: PLC0415 - scipy is a dependency; import when used

    T = y.size
    out = median_filter(y, size=2 * h + 1, mode="nearest")
    for i in list(range(min(h, T))) + list(range(max(T - h, h), T)):
        k = min(h, i, T - 1 - i)
        out[i] = np.median(y[i - k:i + k + 1])
    return out


def _noise(y: np.ndarray) -> float:
    """Point-to-point noise of ``y``: ``1.4826 MAD / sqrt 2`` of its successive differences (a
    trend or a few cliffs hardly move it)."""
    d = np.diff(y)
    return 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2)


def _noise_half_window(y: np.ndarray, h: int, bound: float) -> int:
    """The smallest half-window ``>= h`` over which the point-to-point noise of ``y`` moves the
    measured slope by at most ``bound / 4`` (one standard deviation), with the window at most a
    quarter of the curve: a median of ``2h + 1`` points has noise ``~1.25 sigma / sqrt(2h + 1)``
    and a centred slope divides the difference of two of them by ``2h / (T - 1)`` of the run."""
    T = y.size
    sigma = _noise(y)
    cap = max(h, T // 8)
    while h < cap and 1.25 * np.sqrt(2) * sigma / np.sqrt(2 * h + 1) * (T - 1) / (2 * h) > bound / 4:
        h += 1
    return h


def _flat_runs(ys: np.ndarray, u: np.ndarray, h: int, bound: float, min_drop: float) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` of the flat stretches (rule steps 2-4)."""
    T = ys.size
    idx = np.arange(T)
    lo, hi = np.maximum(idx - h, 0), np.minimum(idx + h, T - 1)
    central = np.abs(ys[hi] - ys[lo]) < bound * (u[hi] - u[lo])
    ahead = np.abs(ys[hi] - ys) < bound * (u[hi] - u)      # the next h points
    behind = np.abs(ys - ys[lo]) < bound * (u - u[lo])     # the previous h points
    flat = central | ahead | behind
    runs: list[tuple[int, int]] = []
    i = 0
    while i < T:
        if not flat[i]:
            i += 1
            continue
        j = i
        while j + 1 < T and flat[j + 1]:
            j += 1
        if runs and np.max(np.abs(ys[runs[-1][1]:i + 1] - ys[runs[-1][1]])) < min_drop:
            runs[-1] = (runs[-1][0], j)  # a blip, not a fall: one stretch
        else:
            runs.append((i, j))
        i = j + 1
    return runs


def _check(steps, loss, slope_tol, min_span, min_drop):
    if loss.ndim not in (1, 2) or steps.ndim != 1 or steps.shape[0] != loss.shape[-1]:
        raise GlassnetError(f"steps and loss must be (T,) and (T,) or (M, T); got {steps.shape} and {loss.shape}")
    if not (slope_tol > 0 and 0 < min_span <= 1 and min_drop >= 0):
        raise GlassnetError("detect_plateau needs slope_tol > 0, 0 < min_span <= 1 and min_drop >= 0; "
                            f"got {slope_tol!r}, {min_span!r}, {min_drop!r}")
    if steps.size > 1 and not np.all(np.diff(steps) > 0):
        raise GlassnetError("steps must be strictly increasing")


def detect_plateaus(steps, loss, *, slope_tol: float = 0.2, min_span: float = 0.05, min_drop: float = 0.05,
                    window: int | None = None, until_end: bool = False):
    """Every plateau of a loss curve, in order (rule in the module docstring).

    Parameters
    ----------
    steps : ``(T,)`` strictly increasing step numbers (``history.steps``).
    loss : ``(T,)`` one curve, or ``(M, T)`` one per model.
    slope_tol : a point is flat when ``|d log(loss) / du| < slope_tol * max(range of log-loss, 1)``.
    min_span : shortest plateau, as a share of the run.
    min_drop : the fall (in log-loss, ~relative) that counts as leaving a plateau, and the
        largest change between two flat stretches that still makes them one.
    window : points in the running median (default: from ``min_span``, widened for noise).
    until_end : also report a stall the loss never leaves (``escaped=False``).

    Returns
    -------
    list of Plateau for one curve; a list of such lists (one per model) for ``(M, T)``.
    """
    steps = np.asarray(steps, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    _check(steps, loss, slope_tol, min_span, min_drop)
    if loss.ndim == 2:
        return [detect_plateaus(steps, row, slope_tol=slope_tol, min_span=min_span, min_drop=min_drop,
                                window=window, until_end=until_end) for row in loss]
    ok = np.isfinite(loss) & (loss > 0)
    steps, loss = steps[ok], loss[ok]
    T = loss.size
    if T < 6:
        return []
    if window is not None and not 3 <= int(window) <= T:
        raise GlassnetError(f"window must be between 3 and the curve length {T}, got {window}")
    h = int(window) // 2 if window is not None else max(2, round(min_span * T / 4))
    u = (steps - steps[0]) / (steps[-1] - steps[0])
    y = np.log(loss)
    ys = _running_median(y, h)
    bound = slope_tol * max(float(ys.max() - ys.min()), 1.0)
    if window is None:
        h2 = _noise_half_window(y, h, bound)
        if h2 > h:  # noisy: a wider median, and the range (hence the bound) it gives
            h = h2
            ys = _running_median(y, h)
            bound = slope_tol * max(float(ys.max() - ys.min()), 1.0)
    runs = _flat_runs(ys, u, h, bound, min_drop)
    # what noise alone can move the difference of two medians (two standard deviations)
    slack = 2 * 1.25 * _noise(y) * np.sqrt(2 / (2 * h + 1))
    found = []
    last = T - 1 - h  # the last point whose median has its full window
    for k, (s, e) in enumerate(runs):
        if u[e] - u[s] < min_span:
            continue
        level = float(np.median(loss[s:e + 1]))
        target = min(ys[e], np.log(level)) - min_drop
        until = min(runs[k + 1][0] if k + 1 < len(runs) else T - 1, last)
        after = np.arange(e + 1, until + 1)
        after = after[ys[after] <= target]  # points the loss has fallen to, out of the stretch
        escaped = bool(np.any(ys[e] - ys[after] - slack >= ESCAPE_PACE * bound * (u[after] - u[e])))
        never_left = k == len(runs) - 1 and not np.any(ys[e + 1:] <= target)
        if escaped:
            found.append(Plateau(int(steps[s]), int(steps[e]), level, True))
        elif until_end and never_left:
            found.append(Plateau(int(steps[s]), int(steps[-1]), level, False))
    return found


def detect_plateau(steps, loss, *, slope_tol: float = 0.2, min_span: float = 0.05, min_drop: float = 0.05,
                   window: int | None = None, until_end: bool = False):
    """The longest plateau of a loss curve (:func:`detect_plateaus`; rule in the module docstring).

    Parameters
    ----------
    steps : ``(T,)`` increasing step numbers (``history.steps``).
    loss : ``(T,)`` one curve, or ``(M, T)`` one per model.

    Returns
    -------
    Plateau or None for one curve; a list of them (one per model) for ``(M, T)``.
    """
    kw = dict(slope_tol=slope_tol, min_span=min_span, min_drop=min_drop, window=window, until_end=until_end)
    found = detect_plateaus(steps, loss, **kw)
    if np.asarray(loss).ndim == 2:
        return [max(f, key=lambda p: p.length) if f else None for f in found]
    return max(found, key=lambda p: p.length) if found else None
