"""The text and the figure of a :class:`~glassnet.diagnostics.divergence.DivergenceReport`.

:func:`render` writes the verdict, the chain-rule factors at the first bad step beside the healthy
member (or the member's own step 0), why, and a table of the steps around it, for every layer;
:func:`plot` draws the loss, the update ratio (dead share for *died*) and the gradient norm of the
layer named. Presentation only: the numbers and verdicts come from
:mod:`glassnet.diagnostics.divergence`.
"""

from __future__ import annotations

import numpy as np

from .divergence import FACTOR_MEANING, FACTOR_TEXT, FACTORS, STATS, DivergenceReport, _f, _live


# ------------------------------------------------------------------------------- the text
def render(r: DivergenceReport) -> str:
    v = r.verdict
    if v is None:
        notes = "; ".join(f"{r.labels[x.member]}: {x.note}" for x in r.verdicts)
        return f"nothing went wrong: every model trained normally ({notes})"
    m, h, t, k = v.member, r.healthy, v.step, r.layers.index(v.layer)
    name, hname = r.labels[m], (r.labels[h] if h is not None else None)
    lines = [f"{name}: {v.kind.upper()}: {v.note}",
             f"first step that went wrong: step {t}, layer {v.layer}" + _headline(r, v, k)]
    ref = f"{hname} (healthy)" if h is not None else f"{name} at step 0"
    lines.append(f"chain rule at {v.layer}, step {t}:  dL/dW = a_in^T (dL/da * f'(z)),  "
                 "update = -step * dL/dθ  (compared with " + ref + ")")
    rt, rm = (t, h) if h is not None else (0, m)
    lines.append(f"  {'factor':<24}{'member':>12}{('healthy' if h is not None else 'step 0'):>12}{'ratio':>10}")
    for f in FACTORS + ("grad", "ratio"):
        a, b = r.stats[f][t, k, m], r.stats[f][rt, k, rm]
        mark = "   <- responsible" if f == v.factor else ""
        lines.append(f"  {FACTOR_TEXT[f]:<24}{_f(a):>12}{_f(b):>12}{_ratio(a, b):>10}{mark}")
    lines += _why(r, v, k, h)
    lines += _window(r, v, k, h)
    others = [x for x in r.verdicts if x.member != m]
    if others:
        lines.append("other models: " + "; ".join(
            f"{r.labels[x.member]} {x.kind}" + (f" ({x.note})" if x.ok else f" at step {x.step}, {x.layer}")
            for x in others))
    return "\n".join(lines)


def _headline(r, v, k) -> str:
    m, t = v.member, v.step
    if v.kind == "died":
        return f": {r.stats['dead'][t, k, m]:.0%} of its ReLU units are <= 0 on every probe sample"
    if v.kind == "diverged":
        return f": the update was {_f(r.stats['ratio'][t, k, m])}x the layer's weights (||upd||/||θ||)"
    return (f": the smallest gradient for its weights, ||dL/dθ||/||θ|| = "
            f"{_f(r.stats['grad'][t, k, m] / r.stats['norm'][t, k, m])}")


def _why(r, v, k, h) -> list[str]:
    m, t = v.member, v.step
    out = []
    if v.kind == "died":
        out.append(f"f'(z) = 0 for those units on every sample, so dL/dz = dL/da * f'(z) = 0 there: their columns "
                   f"of dL/dW and their dL/db are 0 and no update can bring them back.")
        ta = _whole_dead(r, v, k)
        if ta is not None:
            below = r.layers[:k]
            out.append(f"from step {ta} the whole layer is dead: dL/da below it = dL/dz W^T = 0, so "
                       + (", ".join(below) + (" get" if len(below) > 1 else " gets") if below else "nothing below gets")
                       + " no gradient through it either (||dL/dθ|| at step " + f"{ta}: "
                       + ", ".join(f"{r.layers[j]} {_f(r.stats['grad'][ta, j, m])}" for j in range(k + 1)) + ").")
        if t > 0:
            hr = f" ({r.labels[h]}: {_f(r.stats['ratio'][t - 1, k, h])})" if h is not None else ""
            out.append(f"what killed them: the update at step {t - 1} moved {v.layer} by "
                       f"{_f(r.stats['ratio'][t - 1, k, m])}x its weights{hr}, at step size "
                       f"{_f(r.stats['step'][t - 1, k, m])}.")
        else:
            out.append("they were dead from the start (the initialization puts z <= 0 on every sample).")
        return out
    f = v.factor
    ref = "the healthy member's" if h is not None else "its own at step 0"
    if f in FACTOR_MEANING:
        a = r.stats[f][t, k, m]
        b = r.stats[f][t, k, h] if h is not None else r.stats[f][0, k, m]
        out.append(f"responsible: {FACTOR_MEANING[f]}: {_f(a)} against {ref} {_f(b)} ({_ratio(a, b)}).")
    else:
        out.append("responsible: no single factor differs from " + ref + "; the update itself is "
                   + f"{_f(r.stats['ratio'][t, k, m])}x the weights.")
    if v.kind == "diverged":
        out.append(_first_nonfinite(r, m, v.detected)[1])
    elif t > 0:
        j = int(np.nanargmax(np.nan_to_num(r.stats["ratio"][t - 1, :, m], nan=-1.0)))
        hr = f" ({r.labels[h]}: {_f(r.stats['ratio'][t - 1, j, h])})" if h is not None else ""
        out.append(f"how it got there: the update at step {t - 1} moved {r.layers[j]} by "
                   f"{_f(r.stats['ratio'][t - 1, j, m])}x its weights{hr}.")
    return out


def _whole_dead(r, v, k) -> int | None:
    """The step from which every ReLU unit of layer k is dead to the end of the replay, or None."""
    whole = r.stats["dead"][v.step:_live(r, v.member), k, v.member] >= 1
    if not whole[-1]:
        return None
    return v.step if whole.all() else v.step + len(whole) - int(np.argmin(whole[::-1]))


def _first_nonfinite(r, m, upto) -> tuple[int, str]:
    """``(step, text)``: the member's first non-finite activation (forward order), loss, or
    gradient (backward order); without one, its largest activation at step ``upto``."""
    L = len(r.layers)
    for t in range(_live(r, m)):
        for k in range(L):
            if not np.isfinite(r.stats["zmax"][t, k, m]):
                return t, f"first non-finite value: step {t}, {r.layers[k]}'s activation (max |z| = " \
                          f"{_f(r.stats['zmax'][t, k, m])})"
        if not (np.isfinite(r.loss[t, m]) and np.isfinite(r.probe_loss[t, m])):
            return t, f"first non-finite value: step {t}, the loss (activations still finite: the output's " \
                      f"max |z| = {_f(r.stats['zmax'][t, L - 1, m])} overflows the loss in {r.dtype})"
        for k in reversed(range(L)):
            if not np.isfinite(r.stats["grad"][t, k, m]):
                return t, f"first non-finite value: step {t}, {r.layers[k]}'s gradient (||dL/dθ|| = " \
                          f"{_f(r.stats['grad'][t, k, m])})"
    t = min(upto, len(r.steps) - 1)
    k = int(np.nanargmax(np.nan_to_num(r.stats["zmax"][t, :, m], nan=-1)))
    return t, f"at step {t} the largest activation is {r.layers[k]}'s, max |z| = {_f(r.stats['zmax'][t, k, m])}"


def _ratio(a, b) -> str:
    if np.isnan(a) or np.isnan(b):
        return "-"
    if not (np.isfinite(a) and np.isfinite(b)) or b == 0:
        return "-" if a == b else ("inf" if b == 0 or not np.isfinite(a) else "0x")
    q = abs(a) / abs(b)
    return f"{q:.3g}x" if q < 1e4 else f"{q:.1e}x"


def _window(r, v, k, h) -> list[str]:
    """A table of the steps around the first bad step (and up to the detection), every layer."""
    m, t = v.member, v.step
    T = _live(r, m)
    steps = list(range(max(0, t - 2), min(T, t + 3)))
    later = [v.detected] + ([_first_nonfinite(r, m, v.detected)[0]] if v.kind == "diverged" else []) + \
        ([_whole_dead(r, v, k)] if v.kind == "died" else [])
    for d in sorted({d for d in later if d is not None}):
        if d < T and d not in steps:
            more = list(range(max(steps[-1] + 1, d - 1), min(T, d + 1)))
            steps += ([-1] if more[0] > steps[-1] + 1 else []) + more
    who = [m] + ([h] if h is not None else [])
    relu = np.isfinite(r.stats["dead"]).any()
    cols = [("loss", 9), ("max|z|", 9), ("f'(z)", 9)] + ([("dead", 5)] if relu else []) + \
        [("||dL/dθ||", 10), ("upd/θ", 9)]
    block = "".join(f"{name:>{w}}" for name, w in cols)
    wide = max(8, *(len(name) for name in r.layers))
    lines = [f"steps around it ({' | '.join(r.labels[w] for w in who)}):",
             f"  step  {'layer':<{wide}}" + " |".join(block for _ in who)]
    for s in steps:
        if s < 0:
            lines.append("   ...")
            continue
        for j, layer in enumerate(r.layers):
            cells = []
            for w in who:
                st = {name: r.stats[name][s, j, w] for name in STATS}
                values = [_f(r.probe_loss[s, w]) if j == 0 else "", _f(st["zmax"]), _f(st["f'"])]
                if relu:
                    values.append(f"{st['dead']:.0%}" if np.isfinite(st["dead"]) else "-")
                values += [_f(st["grad"]), _f(st["ratio"])]
                cells.append("".join(f"{text:>{width}}" for text, (_, width) in zip(values, cols)))
            mark = "*" if (s == t and j == k) else " "
            lines.append(f"{mark} {s if j == 0 else '':>4}  {layer:<{wide}}" + " |".join(cells))
    return lines


# ------------------------------------------------------------------------------- the figure
def plot(r: DivergenceReport, path=None):
    """The figure of :meth:`DivergenceReport.plot`: three panels for the explained member beside the
    healthy one, the first bad step marked; saved to ``path`` if given."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - only when drawn

    v = r.verdict
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    who = [m for m in (r.member, r.healthy) if m is not None]
    k = r.layers.index(v.layer) if v is not None and v.layer else 0
    died = v is not None and v.kind == "died"
    for m in who:
        label = r.labels[m]
        axes[0].semilogy(r.steps, np.abs(r.probe_loss[:, m]), label=label)
        if died:
            axes[1].plot(r.steps, r.stats["dead"][:, k, m], label=label)
        else:
            axes[1].semilogy(r.steps, r.stats["ratio"][:, k, m], label=label)
        axes[2].semilogy(r.steps, r.stats["grad"][:, k, m], label=label)
    middle = "share of dead ReLU units" if died else "||update|| / ||θ||"
    titles = ["probe loss", f"{middle}  ({r.layers[k]})", f"||dL/dθ||  ({r.layers[k]})"]
    for ax, title in zip(axes, titles):
        ax.set_title(title)
        ax.set_xlabel("step")
        if v is not None and v.step is not None:
            ax.axvline(v.step, color="k", ls=":", lw=1)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
