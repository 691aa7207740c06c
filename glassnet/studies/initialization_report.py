"""The analysis of study ``initialization``: a pure function of its measurements.

Every finding is a claim (:meth:`~glassnet.studies.report.Report.claim`): written only when its
premise holds on the numbers, the alternative (what happened instead) otherwise, each with the
numbers it rests on, and what the seed says where the measurement tests it.
"""

from __future__ import annotations

import numpy as np

from .common import first_above, steps_stats
from .panels import color, legend_outside, log_limits, seed_lines
from .report import count_of, fmt, names_list, pct, ratio_phrase, step_text

HIDDEN = ("dense_0", "dense_1")
EQUAL, HE = ("equal (one He draw)", "zero"), ("He normal", "zero")
#: a loss along the straight line between two networks that rises this far above the chord is a barrier
BARRIER = 0.05
#: two final networks "differ" when, after matching their units, they are further apart than this
#: share of their weight norm
DIFFER = 0.1
SEED = {
    "symmetry": "that with equal weights all neurons of a layer keep the same weights, like one neuron per layer "
                "(question 1)",
    "fails": "that such a network can virtually never converge to a good solution (question 1)",
    "bias": "that zero biases and random biases should make little difference (question 2)",
    "differ": "that different weight initializations can end in different final weights (seed 001, 1b)",
    "convex": "that the objective is not convex (seed 001, 1b)",
    "minima": "that gradient descent can converge to different local minima from different starts (seed 001, 1b)",
    "slower": "that with a too-low rate more epochs are needed to reach the same performance (seed 001, 1c)",
    "stuck": "that with a too-low rate gradient descent is more likely stuck in a local minimum close to the "
             "initial weights (seed 001, 1c)",
}


def analyze(data, s, report) -> None:
    runs, S, H = data["runs"], s["seeds"], s["steps"]
    target = s["accuracy target"]
    rows, stats = [], {}
    for (w, b), r in runs.items():
        reach = [first_above(r["steps"], r["accuracy"][j], target) for j in range(S)]
        med, n = steps_stats(reach)
        d = {L: (r[f"distinct/{L}"][:, 0], r[f"distinct/{L}"][:, -1]) for L in HIDDEN}
        stats[(w, b)] = {"reach": med, "n": n, "distinct": d, "test": float(np.mean(r["test_accuracy"])),
                         "test_lo": float(np.min(r["test_accuracy"])), "test_hi": float(np.max(r["test_accuracy"])),
                         "loss": float(np.mean(r["loss"][:, -1]))}
        rows.append([w, b] + [f"{_rng(d[L][0])} -> {_rng(d[L][1])}" for L in HIDDEN]
                    + [stats[(w, b)]["loss"], pct(stats[(w, b)]["test"]), step_text(med, H), f"{n}/{S}"])
        report.number(f"test_accuracy.{w}.{b}", stats[(w, b)]["test"])
        for L in HIDDEN:
            report.number(f"distinct_end.{w}.{b}.{L}", float(np.max(d[L][1])))
    report.set_summary(["weights", "biases", "distinct units dense_0 (start -> end)",
                        "distinct units dense_1", "final train loss", "test accuracy",
                        f"median step to {pct(target, 0)} train accuracy", "seeds reached"], rows)
    budget = (f"every setup trained with the same budget: SGD lr {fmt(s['lr'])}, batch {s['batch_size']}, {H:,} steps, "
              f"{S} seeds")
    report.intro.append(f"Budget: {budget}.")
    _symmetry_claims(report, runs, stats, S, H)
    _bias_claims(report, runs, stats)
    _speed_claim(report, stats, H, target)
    if "minima" in data:
        _minima_claims(report, data["minima"], runs[HE])
    if "low_lr" in data:
        _low_lr_claims(report, runs[HE], data["low_lr"], s)
    _figures(report, data, s)


# -- seed 000: equal weights, biases, speed ---------------------------------------------------------
def _symmetry_claims(report, runs, stats, S, H) -> None:
    eq, he = stats[EQUAL], stats[HE]
    units = 8
    kept = all(np.all(eq["distinct"][L][1] == 1) for L in HIDDEN)
    head = (f"Equal weights, zero biases: each hidden layer had {_rng(eq['distinct']['dense_0'][0])} distinct unit(s) "
            f"of {units} at step 0 and {_rng(eq['distinct']['dense_0'][1])} (dense_0) / "
            f"{_rng(eq['distinct']['dense_1'][1])} (dense_1) after {H:,} steps in {count_of(S, S, 'seeds')}: ")
    report.claim("equal.symmetry", kept,
                 head + "the units stayed exact copies, so each layer worked as a single unit.",
                 head + "the symmetry did not fully survive (rounding or the data broke it).",
                 {"distinct_end_dense_0": float(np.max(eq["distinct"]["dense_0"][1])),
                  "distinct_end_dense_1": float(np.max(eq["distinct"]["dense_1"][1]))}, seed=SEED["symmetry"])
    gap = he["test"] - eq["test"]
    report.claim("equal.fails", gap > 0.1,
                 f"Equal weights could not learn the circle: test accuracy {pct(eq['test'])} (seeds {pct(eq['test_lo'])}"
                 f" - {pct(eq['test_hi'])}) against {pct(he['test'])} with He initialization, final training loss "
                 f"{fmt(eq['loss'])} against {fmt(he['loss'])}.",
                 f"Equal weights still learned: test accuracy {pct(eq['test'])} against {pct(he['test'])} with He "
                 f"initialization ({100 * gap:.1f} points apart, not more than 10).",
                 {"equal": eq["test"], "he": he["test"]}, seed=SEED["fails"])


def _bias_claims(report, runs, stats) -> None:
    eq, eqb = stats[EQUAL], stats[("equal (one He draw)", "N(0, var 0.01)")]
    rb = runs[("equal (one He draw)", "N(0, var 0.01)")]
    sp0, sp1 = float(np.mean(rb["spread/dense_0"][:, 0])), float(np.mean(rb["spread/dense_0"][:, -1]))
    report.number("spread_end.equal_random_bias", sp1)
    head = (f"Equal weights with random biases: the spread of dense_0's incoming weights across its units went from "
            f"{fmt(sp0)} to {fmt(sp1)} (mean std over units) — ")
    tail = f"test accuracy {pct(eqb['test'])}, against {pct(eq['test'])} with zero biases."
    report.claim("equal_random_bias.breaks", sp1 > 1e-3 and sp1 > 10 * sp0,
                 head + "different biases gave the units different gradients, so the biases alone broke the weight "
                        "symmetry; " + tail,
                 head + "the weights stayed (nearly) identical despite the random biases; " + tail,
                 {"spread_start": sp0, "spread_end": sp1})
    he, heb = stats[HE], stats[("He normal", "N(0, var 0.01)")]
    diff = heb["test"] - he["test"]
    head = f"Zero vs random biases with He weights: test accuracy {pct(he['test'])} vs {pct(heb['test'])} "
    report.claim("he.bias_no_difference", abs(diff) <= 0.02,
                 head + "(within 2 points: zero biases are fine once the weights are random).",
                 head + f"({abs(diff) * 100:.1f} points {'better' if diff > 0 else 'worse'} with random biases).",
                 {"zero": he["test"], "random": heb["test"]}, seed=SEED["bias"])


def _speed_claim(report, stats, H, target) -> None:
    he, small, glo = stats[HE], stats[("N(0, var 0.01)", "zero")], stats[("Glorot uniform", "zero")]
    reached = [f"{w} ({step_text(stats[(w, 'zero')]['reach'], H)})"
               for w in ("equal (one He draw)", "He normal", "Glorot uniform", "N(0, var 0.01)")]
    head = f"Speed to {pct(target, 0)} training accuracy (zero biases, median over seeds): {names_list(reached)}. "
    glo_text = (f" Glorot was {_vs(glo['reach'], he['reach'])} He." if glo["reach"] is not None and he["reach"] is not None
                else "")
    if he["reach"] is None:
        report.claim("small_init_slower", False, "", head + "He itself did not reach it, so no speed is compared.",
                     {"he": None, "small": small["reach"]})
        return
    slower = small["reach"] is None or small["reach"] > he["reach"]
    report.claim("small_init_slower", slower,
                 head + ("Small N(0, var 0.01) weights did not reach it at all" if small["reach"] is None else
                         f"Small N(0, var 0.01) weights were {_vs(small['reach'], he['reach'])} He") + "." + glo_text,
                 head + f"Small N(0, var 0.01) weights were not slower than He ({_vs(small['reach'], he['reach'])} "
                        "it)." + glo_text,
                 {"he": he["reach"], "small": small["reach"]})


# -- seed 001: different minima, a too-low rate -------------------------------------------------------
def _minima_claims(report, mn, he_run) -> None:
    pairs = mn["pairs"]
    norm = float(np.mean(mn["norm"]))
    dist = np.array([p["distance"] for p in pairs])
    ali = np.array([p["aligned_distance"] for p in pairs])
    start = np.array([p["start_distance"] for p in pairs])
    raw_b = np.array([p["raw_barrier"] for p in pairs])
    ali_b = np.array([p["aligned_barrier"] for p in pairs])
    loss = he_run["loss"][:, -1]
    n = len(pairs)
    report.section("Different starts, different final weights (seed 001)")
    report.table(["pair of seeds", "distance at the start", "distance at the end", "after matching units",
                  "barrier on the straight line", "barrier after matching units"],
                 [[f"{p['pair'][0]} and {p['pair'][1]}", p["start_distance"], p["distance"], p["aligned_distance"],
                   p["raw_barrier"], p["aligned_barrier"]] for p in pairs],
                 caption="He normal weights, zero biases. Distances are Euclidean over all parameters; units are "
                         "matched by permutation (glassnet.landscape.align, weight matching). The barrier is the "
                         "largest rise of the training loss above the straight line between the two ends' losses, "
                         f"on {len(mn['ts'])} points of the path between the networks.")
    head = (f"Different starts (He normal, {len(mn['norm'])} seeds, same data and budget): final weights "
            f"{fmt(float(dist.min()))} - {fmt(float(dist.max()))} apart ({fmt(float(ali.min()))} - "
            f"{fmt(float(ali.max()))} after matching hidden units by permutation; starts {fmt(float(start.min()))} - "
            f"{fmt(float(start.max()))} apart; weight norm {fmt(norm)}), final training losses "
            f"{fmt(float(loss.min()))} - {fmt(float(loss.max()))}")
    report.claim("seed001.final_weights_differ", bool(ali.min() > DIFFER * norm),
                 head + ": the networks ended at different weights, not at one solution relabelled.",
                 head + f": after matching units every pair ended within {pct(DIFFER, 0)} of the weight norm — "
                        "essentially one solution, relabelled.",
                 {"aligned_distance_min": float(ali.min()), "norm": norm}, seed=SEED["differ"])
    above = count_of(int((raw_b > BARRIER).sum()), n, "pairs")
    report.claim("seed001.not_convex", bool(raw_b.max() > BARRIER),
                 f"Along the straight line between two final networks the training loss rose up to "
                 f"{fmt(float(raw_b.max()))} above the line joining the two ends' losses ({above} above "
                 f"{fmt(BARRIER)}): a convex loss never rises above that line, so this loss is not convex.",
                 f"Along the straight line between two final networks the training loss rose at most "
                 f"{fmt(float(raw_b.max()))} above the line joining the two ends' losses (not above {fmt(BARRIER)}): "
                 "these paths show no sign of a non-convex loss.",
                 {"raw_barrier_max": float(raw_b.max())}, seed=SEED["convex"])
    report.claim("seed001.separate_minima", bool(ali_b.max() > BARRIER),
                 f"After matching hidden units, the straight line between two solutions still climbs a barrier of up to "
                 f"{fmt(float(ali_b.max()))} ({count_of(int((ali_b > BARRIER).sum()), n, 'pairs')} above {fmt(BARRIER)}; "
                 f"unmatched up to {fmt(float(raw_b.max()))}): they are separate minima, not joined by a straight "
                 "low-loss path even up to a relabelling of the units (a curved path might still join them).",
                 f"After matching hidden units, the straight line between two solutions stays low (barrier at most "
                 f"{fmt(float(ali_b.max()))}, against up to {fmt(float(raw_b.max()))} unmatched): the different final "
                 "weights lie in one valley up to a relabelling of the units, not in separate minima, as far as "
                 "straight paths show.",
                 {"aligned_barrier_max": float(ali_b.max()), "raw_barrier_max": float(raw_b.max())},
                 seed=SEED["minima"])


def _low_lr_claims(report, he, low, s) -> None:
    H, lr, lo_lr = s["steps"], s["lr"], s["low lr (seed 001)"]
    k = lr / lo_lr
    steps = he["steps"]
    i_eq = int(np.argmin(np.abs(steps - H / k)))   # the step where lr x steps equals the low rate's at H
    i_half = int(np.argmin(np.abs(steps - H / 2)))
    n_H, n_eq = float(np.mean(he["loss"][:, -1])), float(np.mean(he["loss"][:, i_eq]))
    l_H, l_half, l_eq = (float(np.mean(low["loss"][:, -1])), float(np.mean(low["loss"][:, i_half])),
                         float(np.mean(low["loss"][:, i_eq])))
    g0, g_low, g_he = (float(np.mean(low["grad_start"])), float(np.mean(low["grad_end"])),
                       float(np.mean(he["grad_end"])))
    m_low, m_eq, m_he = (float(np.mean(low["moved"][:, -1])), float(np.mean(he["moved"][:, i_eq])),
                         float(np.mean(he["moved"][:, -1])))
    drop = 1 - l_H / l_half if l_half > 0 else 0.0
    report.section("A too-low learning rate (seed 001)")
    report.table(["learning rate", f"loss at step {int(steps[i_eq]):,}", f"loss at step {H:,}",
                  f"gradient norm at step {H:,} (whole training set; start {fmt(g0)})",
                  f"distance from the initial weights at step {int(steps[i_eq]):,}",
                  f"distance at step {H:,}"],
                 [[fmt(lr), n_eq, n_H, g_he, m_eq, m_he], [fmt(lo_lr), l_eq, l_H, g_low, float(np.mean(low["moved"][:, i_eq])),
                                                              m_low]],
                 caption=f"He normal weights, zero biases, the same initial weights and batches; mean over {s['seeds']} "
                         f"seeds. Step {int(steps[i_eq]):,} at lr {fmt(lr)} and step {H:,} at lr {fmt(lo_lr)} have the "
                         "same lr x steps.")
    report.claim("seed001.low_lr_slower", l_H > n_H,
                 f"A {fmt(k)}x lower rate (lr {fmt(lo_lr)} vs {fmt(lr)}, same initial weights and batches): after "
                 f"{H:,} steps its training loss was {fmt(l_H)} against {fmt(n_H)} — it needs more steps for the same "
                 f"result; lr {fmt(lr)} had reached {fmt(n_eq)} after {int(steps[i_eq]):,} steps, the same lr x steps.",
                 f"A {fmt(k)}x lower rate (lr {fmt(lo_lr)} vs {fmt(lr)}): after {H:,} steps its training loss was "
                 f"{fmt(l_H)} against {fmt(n_H)}, not worse.",
                 {"low": l_H, "normal": n_H, "normal_equal_lr_steps": n_eq}, seed=SEED["slower"])
    stuck = drop < 0.05 and l_H > 2 * n_H  # stopped falling, well above where the normal rate got
    report.claim("seed001.low_lr_stuck", stuck,
                 f"At lr {fmt(lo_lr)} the loss stalled: it fell only {pct(drop)} over the second half of the run and "
                 f"ended at {fmt(l_H)} (lr {fmt(lr)}: {fmt(n_H)}), with a gradient of {fmt(g_low)} on the whole "
                 f"training set at the end ({pct(g_low / g0)} of its start), {fmt(m_low)} from its initial weights "
                 f"(lr {fmt(lr)}: {fmt(m_he)}).",
                 f"At lr {fmt(lo_lr)} nothing was stuck, it was slow: its loss still fell {pct(drop)} over the second "
                 f"half of the run (gradient on the whole training set at the end {fmt(g_low)}, {pct(g_low / g0)} of "
                 f"its start; lr {fmt(lr)}'s: {fmt(g_he)}), and it followed the same "
                 f"path as lr {fmt(lr)} at {fmt(k)}x the steps (loss {fmt(l_H)} at step {H:,} vs {fmt(n_eq)} at step "
                 f"{int(steps[i_eq]):,}; {fmt(m_low)} vs {fmt(m_eq)} from the initial weights). It stays close to the "
                 "initial weights because it has moved less, not because a minimum holds it.",
                 {"drop_second_half": drop, "grad_end": g_low, "grad_start": g0, "moved": m_low,
                  "normal_moved_equal_lr_steps": m_eq}, seed=SEED["stuck"])


# -- figures --------------------------------------------------------------------------------------
def _figures(report, data, s) -> None:
    runs = data["runs"]
    weights = list(dict.fromkeys(w for w, _ in runs))
    biases = list(dict.fromkeys(b for _, b in runs))
    steps = runs[HE]["steps"]

    def grid_of(key, ylabel, rows=(None,), log=False, ylim=None):
        def draw(fig):
            axes = fig.subplots(len(rows), len(weights), sharex=True, sharey="row" if not log else False,
                                squeeze=False)
            for r, layer in enumerate(rows):
                for c, w in enumerate(weights):
                    ax = axes[r, c]
                    for i, b in enumerate(biases):
                        name = key if layer is None else f"{key}/{layer}"
                        seed_lines(ax, steps, runs[(w, b)][name], i, f"{b} biases", n_styles=len(biases))
                    if log:
                        log_limits(ax, [runs[(w, b)][key] for b in biases], decades=3)
                    if ylim:
                        ax.set_ylim(*ylim)
                    ax.set_title(f"{w} weights" + ("" if layer is None else f", {layer}"), fontsize=8)
                    ax.grid(alpha=0.3)
                    ax.tick_params(labelsize=7)
                axes[r, 0].set_ylabel(ylabel if layer is None else f"{ylabel}, {layer}", fontsize=8)
            for ax in axes[-1]:
                ax.set_xlabel("training step", fontsize=8)
            legend_outside(fig, axes[0, 0], title="one line per seed")
        return draw

    report.section("Distinct units during training")
    report.text("A unit is counted once per group of units with identical incoming weights and bias "
                "(`glassnet.diagnostics.duplicate_units`, tolerance 1e-10).")
    report.figure("distinct_units.png", grid_of("distinct", "distinct units", rows=HIDDEN, ylim=(0, 8.8)),
                  "Distinct units per hidden layer (of 8) for every weight and bias initialization, one line per "
                  "seed: only equal weights with zero biases stay at 1.", size=(11.0, 4.8))
    report.figure("weight_spread.png", grid_of("spread/dense_0", "std of dense_0 weights across units"),
                  "Spread of the first layer's incoming weights across its units: zero means identical units.",
                  size=(11.0, 3.2))
    report.figure("loss.png", grid_of("loss", "training loss (BCE)", log=True),
                  "Training loss (whole training set) per initialization, one line per seed.", size=(11.0, 3.2))
    if "minima" in data:
        mn = data["minima"]

        def paths(fig):
            axes = fig.subplots(1, 2, sharey=True)
            n = len(mn["pairs"])
            for i, (ax, key, title) in enumerate(zip(axes, ("raw_path", "aligned_path"),
                                                     ("as trained", "after matching hidden units"))):
                curves = np.array([p[key] for p in mn["pairs"]])
                for k, c in enumerate(curves):
                    ax.plot(mn["ts"], c, color=color(i), lw=1.6, alpha=0.7,
                            label=f"one line per pair of seeds ({n} pairs)" if k == 0 else None)
                # dashed, so the pair it coincides with (an odd number of pairs) shows through
                ax.plot(mn["ts"], np.median(curves, axis=0), color="black", lw=1.0, ls="--",
                        label="median of the pairs")
                ax.set_yscale("log")
                ax.set_title(title, fontsize=9)
                ax.grid(alpha=0.3)
            axes[0].set_ylabel("training loss (BCE)")
            fig.supxlabel("position t on the straight line between two networks (0: one, 1: the other)", fontsize=9)
            legend_outside(fig)
            fig.suptitle("loss between two final networks from different starts", fontsize=9)

        report.figure("minima.png", paths, "Training loss along the straight line between the final networks of two "
                                           "seeds, as trained (left) and after matching their hidden units (right).",
                      size=(10.0, 4.0))
    if "low_lr" in data:
        low, he = data["low_lr"], runs[HE]
        k = s["lr"] / s["low lr (seed 001)"]

        def lowfig(fig):
            a1, a2 = fig.subplots(1, 2, sharey=True)
            for ax, scale in ((a1, (1, 1)), (a2, (1, 1 / k))):
                seed_lines(ax, steps * scale[0], he["loss"], 0, f"lr {fmt(s['lr'])}", n_styles=2)
                seed_lines(ax, steps * scale[1], low["loss"], 1, f"lr {fmt(s['low lr (seed 001)'])}", n_styles=2)
                ax.grid(alpha=0.3)
            log_limits(a1, [he["loss"], low["loss"]])
            a1.set_xlabel("training step")
            a2.set_xlabel(f"lr x steps, in steps of lr {fmt(s['lr'])} (step x lr / {fmt(s['lr'])})")
            a2.set_xlim(0, steps[-1] / k * 1.05)
            a1.set_ylabel("training loss (BCE, whole training set)")
            a1.set_title("same steps", fontsize=9)
            a2.set_title("same lr x steps", fontsize=9)
            legend_outside(fig, a1, title="one line per seed")

        report.figure("low_lr.png", lowfig, "A too-low learning rate: against steps (left) it looks stuck; against "
                                            "lr x steps (right) it follows the normal rate's path.", size=(10.0, 4.0))


def _vs(a, b) -> str:
    return ratio_phrase(a, b, "slower than", "faster than", "about as fast as")


def _rng(values) -> str:
    """'1' when all seeds agree, else 'min-max'."""
    values = np.asarray(values)
    lo, hi = int(values.min()), int(values.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"
