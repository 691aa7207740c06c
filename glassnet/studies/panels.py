"""Figure pieces for the activations, initialization, momentum and dead-relu studies.

Every figure here must be readable without the report's text: axes labelled, every seed drawn
(a mean and a min..max band can hide one seed that fell back), curves that coincide told apart
by markers placed at different steps, and legends outside the data. The functions take a
matplotlib ``Axes`` or ``Figure`` (the object API, no pyplot) and only draw.
"""

from __future__ import annotations

import numpy as np

#: marker and dash per position in a legend, so lines that lie on top of each other stay visible
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")


def color(i: int):
    """The i-th colour of matplotlib's tab10 cycle."""
    import matplotlib  # noqa: PLC0415

    return matplotlib.colormaps["tab10"](i % 10)


def seed_lines(ax, steps, curves, i: int, label: str, n_styles: int = 1, markers: int = 8, lw: float = 1.2,
               ls: str | None = None, seed_markers: bool = False):
    """Draw every row of ``curves (S, T)`` against ``steps (T,)`` in colour ``i``: one thin line
    per seed, markers every ``T/markers`` points starting at an offset that depends on ``i`` (of
    ``n_styles`` groups in the panel), so groups that coincide are still told apart. Only the first
    seed is labelled. Non-finite points (a diverged seed) are left out of that seed's line;
    ``markers=0`` draws no markers; ``ls`` overrides the dash of colour ``i``; ``seed_markers`` gives
    each seed its own marker, at its own steps, so seeds with equal values stay visible."""
    steps = np.asarray(steps)
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    T = curves.shape[1]
    style = {"ls": ls or DASHES[i % len(DASHES)]}
    if markers:
        every = max(1, T // markers)
        offset = (i * every) // max(n_styles, 1)
        style.update(marker=MARKERS[i % len(MARKERS)], markevery=(offset % every, every), ms=4,
                     markerfacecolor="none" if i % 2 else color(i))
    for s, row in enumerate(curves):
        if seed_markers:
            every = max(1, T // 10)
            style.update(marker=MARKERS[s % len(MARKERS)], ms=4, markerfacecolor="none",
                         markevery=((s * every) // len(curves), every))
        ax.plot(steps, row, color=color(i), lw=lw, alpha=0.85, label=label if s == 0 else None, **style)


def legend_outside(fig, ax=None, title: str | None = None, ncol: int = 1) -> None:
    """One legend for the figure, to the right of every axes (never over the data); the handles
    come from ``ax`` (default: all axes, duplicates merged)."""
    axes = [ax] if ax is not None else fig.axes
    handles, labels = [], []
    for a in axes:
        for h, l in zip(*a.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, title=title, title_fontsize=8,
                   ncol=ncol, frameon=False)


def log_limits(ax, curves, floor: float = 1e-12, decades: float | None = None) -> None:
    """Log y-axis whose range covers the finite positive values of ``curves`` (any shape),
    clipped below at ``floor`` and, with ``decades``, to that many decades under the top; values
    below the bottom are drawn at the bottom edge by matplotlib's clipping."""
    v = np.asarray(curves, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    ax.set_yscale("log")
    if v.size == 0:
        return
    hi = float(v.max()) * 2
    lo = max(float(v.min()) / 2, floor)
    if decades is not None:
        lo = max(lo, hi / 10 ** decades)
    ax.set_ylim(lo, hi)
