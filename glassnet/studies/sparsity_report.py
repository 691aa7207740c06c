"""The report of study ``sparsity``, computed from its measurements.

Every finding is a :meth:`~glassnet.studies.report.Report.claim` with its figure. The stated
margins: "hover" means fewer than 1% exact zeros while at least 10x as many weights lie within
the near-zero tolerance; "exact zeros" from the proximal step means at least 10x those of L1 in
the loss at the same rate; a point of accuracy (0.01) is the smallest change called a gain or a
cost. Every final model has had the same number of updates (``steps + fine-tune steps``); the
pruned networks straight after pruning (``steps`` updates) are shown but not ranked against them.
"""

from __future__ import annotations

import numpy as np

from .report import fmt, names_list, pct

POINT = 0.01
SPARSE = 0.8


def _m(a) -> float:
    return float(np.mean(a))


def points(d, s) -> dict:
    """``{method: [(setting, sparsity, accuracy), ...]}`` of every model at the full budget (means
    over seeds)."""
    rates, levels, pr = s["l1 rates"], s["prune levels"], d["pruning"]
    return {
        "L1, near-zeros set to 0": [(f"l1={fmt(r)}", _m(d["l1_thresholded"]["sparsity"][c]),
                                     _m(d["l1_thresholded"]["accuracy"][c])) for c, r in enumerate(rates)],
        "pruning + fine-tuning": [(f"target {pct(lv, 0)}", _m(pr["tuned_sparsity"][i]), _m(pr["tuned_accuracy"][i]))
                                  for i, lv in enumerate(levels)],
        "proximal SGD": [(f"l1={fmt(r)}", _m(d["proximal"]["sparsity"][c]), _m(d["proximal"]["accuracy"][c]))
                         for c, r in enumerate(rates)],
    }


def analyze(d, s, report):
    rates, levels, tol = s["l1 rates"], s["prune levels"], s["near-zero tolerance"]
    total = s["steps"] + s["fine-tune steps"]
    pr, dense = d["pruning"], d["dense"]
    base = d["baseline"]
    rows = [["none (baseline, before pruning)", "—", f"{s['steps']:,}", pct(_m(base["sparsity"])),
             pct(_m(base["near_zero"])), pct(_m(base["accuracy"]))],
            ["none (dense reference)", "—", f"{total:,}", pct(_m(dense["sparsity"])), pct(_m(dense["near_zero"])),
             pct(_m(dense["accuracy"]))]]
    for c, r in enumerate(rates):
        rows.append(["L1 in the loss", f"l1={fmt(r)}", f"{total:,}", pct(_m(d["l1"]["sparsity"][c]), 2),
                     pct(_m(d["l1"]["near_zero"][c])), pct(_m(d["l1"]["accuracy"][c]))])
        rows.append([f"L1, then |w| <= {tol:g} set to 0", f"l1={fmt(r)}", f"{total:,}",
                     pct(_m(d["l1_thresholded"]["sparsity"][c])), "—", pct(_m(d["l1_thresholded"]["accuracy"][c]))])
        report.number(f"l1.sparsity.{r:g}", _m(d["l1"]["sparsity"][c]))
        report.number(f"l1.near_zero.{r:g}", _m(d["l1"]["near_zero"][c]))
    for i, lv in enumerate(levels):
        rows.append(["magnitude pruning", f"target {pct(lv, 0)}", f"{s['steps']:,}", pct(_m(pr["sparsity"][i])), "—",
                     pct(_m(pr["accuracy"][i]))])
        rows.append(["pruning + fine-tuning", f"target {pct(lv, 0)}", f"{total:,}", pct(_m(pr["tuned_sparsity"][i])),
                     "—", pct(_m(pr["tuned_accuracy"][i]))])
        report.number(f"prune.accuracy.{lv:g}", _m(pr["accuracy"][i]))
        report.number(f"prune.tuned_accuracy.{lv:g}", _m(pr["tuned_accuracy"][i]))
    for c, r in enumerate(rates):
        rows.append(["proximal SGD", f"l1={fmt(r)}", f"{total:,}", pct(_m(d["proximal"]["sparsity"][c])),
                     pct(_m(d["proximal"]["near_zero"][c])), pct(_m(d["proximal"]["accuracy"][c]))])
        report.number(f"prox.sparsity.{r:g}", _m(d["proximal"]["sparsity"][c]))
    report.set_summary(["method", "setting", "updates", "exact zeros", f"near zero (abs(w) <= {tol:g})",
                        "test accuracy"], rows)
    report.text(f"Means over {s['seeds']} seeds; sparsity counts weights, not biases. The seed asks for three ways "
                "to a sparse model and leaves the answer blank; these are the three its question points to.")
    _l1(d, s, report, tol, total)
    _proximal(d, s, report, tol)
    _pruning(d, s, report, total)
    _best(d, s, report, total)


def _l1(d, s, report, tol, total):
    rates, top = s["l1 rates"], len(s["l1 rates"]) - 1
    ex, nz = _m(d["l1"]["sparsity"][top]), _m(d["l1"]["near_zero"][top])
    acc, thr_sp, thr_acc = (_m(d["l1"]["accuracy"][top]), _m(d["l1_thresholded"]["sparsity"][top]),
                            _m(d["l1_thresholded"]["accuracy"][top]))
    report.section("1. L1 in the loss: weights hover around zero")
    report.claim(
        "l1.hover", ex < 0.01 and nz >= 10 * max(ex, 1e-4),
        f"L1 in the loss (l1 = {fmt(rates[top])}, {total:,} steps): {pct(ex, 2)} of the weights were exactly zero but "
        f"{pct(nz)} within {tol:g} of it — gradient steps make weights hover around zero, not land on it; setting "
        f"those to zero gave {pct(thr_sp)} sparsity at {pct(thr_acc)} test accuracy ({pct(acc)} before).",
        f"L1 in the loss (l1 = {fmt(rates[top])}, {total:,} steps): {pct(ex, 2)} of the weights were exactly zero and "
        f"{pct(nz)} within {tol:g} of it — not the picture of weights hovering near zero without reaching it "
        "(that needs under 1% exact zeros and 10x as many near zero).",
        {"exact": ex, "near_zero": nz, "thresholded_sparsity": thr_sp, "thresholded_accuracy": thr_acc})
    report.figure("l1_weights.png", _histogram(d, s, top, tol),
                  f"Magnitudes of the weights (all seeds) with l1 = {fmt(rates[top])} in the loss and with the "
                  f"proximal step, and of the dense network; the bar at the left counts exact zeros, the dotted line "
                  f"is the near-zero tolerance {tol:g}.", size=(7.0, 3.8))


def _proximal(d, s, report, tol):
    rates = s["l1 rates"]
    px = [_m(d["proximal"]["sparsity"][c]) for c in range(len(rates))]
    ex = [_m(d["l1"]["sparsity"][c]) for c in range(len(rates))]
    pa = [_m(d["proximal"]["accuracy"][c]) for c in range(len(rates))]
    la = [_m(d["l1"]["accuracy"][c]) for c in range(len(rates))]
    top = len(rates) - 1
    report.section("2. A proximal optimizer: exact zeros")
    each = names_list([f"l1 = {fmt(r)}: {pct(px[c])} vs {pct(ex[c], 2)}" for c, r in enumerate(rates)])
    report.claim(
        "prox.exact", px[top] >= 10 * max(ex[top], 1e-4),
        f"Proximal SGD (the soft-threshold step) set weights to exactly zero where L1 in the loss did not: exact zeros "
        f"{each} (proximal vs L1 in the loss), at {pct(pa[top])} vs {pct(la[top])} test accuracy for "
        f"l1 = {fmt(rates[top])}.",
        f"Proximal SGD did not give clearly more exact zeros than L1 in the loss ({each}; the claim needs 10x at "
        f"l1 = {fmt(rates[top])}).",
        {"proximal": px[top], "l1": ex[top], "proximal_accuracy": pa[top], "l1_accuracy": la[top]})
    report.figure("exact_zeros.png", _exact_zeros(d, s, tol),
                  "Share of weights exactly zero against the L1 rate, for L1 in the loss and proximal SGD (same "
                  f"rates, same budget), and the share within {tol:g} of zero with L1 in the loss; a dot per seed.",
                  size=(6.4, 3.8))


def _pruning(d, s, report, total):
    levels, pr = s["prune levels"], d["pruning"]
    i = int(np.argmin(np.abs(np.array(levels) - 0.9)))
    a_base, a0, a1, a_dense = (_m(d["baseline"]["accuracy"]), _m(pr["accuracy"][i]), _m(pr["tuned_accuracy"][i]),
                               _m(d["dense"]["accuracy"]))
    sp = _m(pr["tuned_sparsity"][i])
    lv = pct(levels[i], 0)
    report.section("3. Magnitude pruning, with and without fine-tuning")
    report.claim(
        "prune.fine_tune", a1 >= a0 + POINT,
        f"Magnitude pruning to {lv} of the weights (the {s['steps']:,}-step network, {pct(a_base)} test accuracy) left "
        f"{pct(a0)}; {s['fine-tune steps']:,} fine-tuning steps with the pruned weights held at zero brought it to "
        f"{pct(a1)} ({100 * (a1 - a0):+.1f} points) at {pct(sp)} sparsity.",
        f"Magnitude pruning to {lv} left {pct(a0)} test accuracy (from {pct(a_base)}); {s['fine-tune steps']:,} "
        f"fine-tuning steps did not gain a point ({pct(a1)}, {100 * (a1 - a0):+.1f} points).",
        {"pruned": a0, "tuned": a1, "unpruned": a_base, "sparsity": sp})
    report.claim(
        "prune.dense_gap", a1 >= a_dense - POINT,
        f"After fine-tuning, the {lv}-sparse network is within a point of the dense one trained for the same "
        f"{total:,} steps ({pct(a1)} vs {pct(a_dense)}): {lv} of the weights were not needed.",
        f"After fine-tuning, the {lv}-sparse network stays {100 * (a_dense - a1):.1f} points below the dense one "
        f"trained for the same {total:,} steps ({pct(a1)} vs {pct(a_dense)}): at {lv} sparsity it costs more than a point.",
        {"tuned": a1, "dense": a_dense})
    report.figure("pruning.png", _pruning_figure(d, s),
                  f"Test accuracy against the pruning level: straight after pruning the {s['steps']:,}-step network, "
                  f"and after {s['fine-tune steps']:,} fine-tuning steps; the grey band is the dense network trained for "
                  f"the same {total:,} steps (lowest to highest seed); a dot per seed.", size=(6.4, 3.8))


def _best(d, s, report, total):
    pts = points(d, s)
    report.section(f"4. Which method is most accurate at {pct(SPARSE, 0)} sparsity or more")
    sparse = {name: [p for p in ps if p[1] >= SPARSE] for name, ps in pts.items()}
    reached = [name for name, ps in sparse.items() if ps]
    best_of = {name: max(ps, key=lambda p: p[2]) for name, ps in sparse.items() if ps}
    desc = lambda name, p: f"{name} ({p[0]}): {pct(p[2])} at {pct(p[1])} zeros"  # noqa: E731
    sparsest = {name: max(ps, key=lambda p: p[1]) for name, ps in pts.items()}
    if len(reached) >= 2:
        order = sorted(best_of, key=lambda n: -best_of[n][2])
        head = order[0]
        holds = (f"At {pct(SPARSE, 0)} sparsity or more, with the same {total:,} updates for every model, the most "
                 f"accurate came from {desc(head, best_of[head])}; the best of the others: "
                 + "; ".join(desc(n, best_of[n]) for n in order[1:]) + ".")
    else:
        holds = ""
    missing = [n for n in pts if n not in reached]
    report.claim(
        "best80", len(reached) >= 2, holds,
        f"Only {names_list(reached) if reached else 'no method'} reached {pct(SPARSE, 0)} sparsity with "
        f"{total:,} updates, so the methods cannot be ranked there; the sparsest models of "
        + names_list(missing) + ": " + "; ".join(desc(n, sparsest[n]) for n in missing) + ".",
        {f"{n}.accuracy": p[2] for n, p in best_of.items()})
    report.figure("sparsity_vs_accuracy.png", _tradeoff(d, s, pts),
                  f"Test accuracy against the share of exact zeros, every model at {total:,} updates (means over seeds; "
                  "pruning without fine-tuning, with fewer updates, in grey); dotted: the "
                  f"{pct(SPARSE, 0)} line and the dense network.", size=(7.2, 4.0))


# -- figures (matplotlib only when drawn) ---------------------------------------------------------
def _histogram(d, s, top, tol):
    def draw(fig):
        ax = fig.subplots()
        groups = (("L1 in the loss", d["l1"]["weights"][top], "tab:blue"),
                  ("proximal SGD", d["proximal"]["weights"][top], "tab:orange"),
                  ("dense, no L1", d["dense"]["weights"], "grey"))
        lo = -8
        edges = np.linspace(lo, 0.5, 35)
        for k, (name, w, color) in enumerate(groups):
            a = np.abs(np.asarray(w, dtype=float)).ravel()
            zeros = np.mean(a == 0)
            nz = np.log10(a[a > 0])
            hist, _ = np.histogram(np.clip(nz, lo, None), edges)
            ax.stairs(hist / a.size, edges, color=color, lw=1.5, label=f"{name} ({pct(zeros, 1)} exactly 0)")
            ax.bar(lo - 1.0 + 0.3 * (k - 1), zeros, 0.28, color=color)
        ax.axvline(np.log10(tol), color="black", ls=":", lw=1)
        ax.set_xticks([lo - 1.0] + list(range(lo, 1)), ["exactly 0"] + [f"1e{e}" for e in range(lo, 1)],
                      fontsize="x-small")
        ax.set_xlabel("|w| (log scale; values below 1e-8 counted at 1e-8)")
        ax.set_ylabel("share of the weights")
        ax.set_title(f"weight magnitudes, l1 = {fmt(s['l1 rates'][top])}", fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)

    return draw


def _exact_zeros(d, s, tol):
    def draw(fig):
        ax = fig.subplots()
        rates = np.asarray(s["l1 rates"], dtype=float)
        series = (("proximal SGD: exactly 0", d["proximal"]["sparsity"], "tab:orange", "o", 1.0),
                  (f"L1 in the loss: |w| <= {tol:g}", d["l1"]["near_zero"], "tab:blue", "s", 0.97),
                  ("L1 in the loss: exactly 0", d["l1"]["sparsity"], "tab:blue", "v", 1.03))
        for name, vals, color, marker, shift in series:
            vals = np.asarray(vals, dtype=float)
            ax.plot(rates * shift, vals.mean(axis=1), color=color, marker=marker, lw=1.2, label=name,
                    ls="--" if "|w|" in name else "-", mfc="none")
            for j in range(vals.shape[1]):
                ax.plot(rates * shift, vals[:, j], marker, color=color, ms=3, alpha=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("L1 rate")
        ax.set_ylabel("share of the weights")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)

    return draw


def _pruning_figure(d, s):
    def draw(fig):
        ax = fig.subplots()
        levels = np.asarray(s["prune levels"], dtype=float)
        pr = d["pruning"]
        dense = np.asarray(d["dense"]["accuracy"], dtype=float)
        ax.axhspan(dense.min(), dense.max(), color="grey", alpha=0.25, label="dense, same updates")
        for key, name, color, off in (("accuracy", "straight after pruning", "tab:red", -0.004),
                                      ("tuned_accuracy", "after fine-tuning", "tab:green", 0.004)):
            acc = np.asarray(pr[key], dtype=float)
            ax.plot(levels + off, acc.mean(axis=1), "-o", color=color, label=name, ms=4)
            for j in range(acc.shape[1]):
                ax.plot(levels + off, acc[:, j], ".", color=color, alpha=0.5)
        ax.set_xlabel("share of weights pruned (exact zeros)")
        ax.set_ylabel("test accuracy")
        ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)

    return draw


def _tradeoff(d, s, pts):
    def draw(fig):
        ax = fig.subplots()
        markers = {"L1, near-zeros set to 0": ("tab:blue", "s"), "pruning + fine-tuning": ("tab:green", "o"),
                   "proximal SGD": ("tab:orange", "^")}
        pr = d["pruning"]
        ax.plot([_m(v) for v in pr["sparsity"]], [_m(v) for v in pr["accuracy"]], ":x", color="grey", ms=5,
                label=f"pruning, no fine-tuning ({s['steps']:,} updates)")
        for name, ps in pts.items():
            color, marker = markers[name]
            xs, ys = [p[1] for p in ps], [p[2] for p in ps]
            ax.plot(xs, ys, "-", color=color, marker=marker, ms=6, mfc="none", label=name)
        ax.axvline(SPARSE, color="black", ls=":", lw=1)
        ax.axhline(_m(d["dense"]["accuracy"]), color="grey", ls=":", lw=1, label="dense network")
        ax.set_xlabel("share of weights exactly zero")
        ax.set_ylabel("test accuracy")
        ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)

    return draw


__all__ = ["analyze", "points"]
