"""The learned weights of study ``autoencoder-838``: the same solution each time? (seed 003,
section 11 and Figures 2, 11-13).

Two runs' weights are compared after the best of the hidden layer's 48 permutations and sign
flips (:mod:`glassnet.studies.solutions`), against *unrelated solutions*: a run and relabelled
copies of another run. The figures show the weights with their biases: after training, at the
start (the seed's Figure 2) and at lambda = 0.1 (what the seed's Figures 11-13 are captioned).
"""

from __future__ import annotations

import numpy as np

from .autoencoder_figures import weights_heatmaps
from .report import choose, count_of, fmt
from .solutions import binary_codes, pairwise_match, random_baseline, relabelled_null

#: a weight this small (mean |W|) has decayed away: its correlations are noise
DECAYED = 1e-3


def weights_section(data, s, report, S):
    """The weights section of the report (tables, claims ``weights.*`` and three figures)."""
    report.section("The learned weights: the same solution each time?")
    wd, lams = data["wd"], s["weight_decays"]
    baseline = random_baseline(8, 3, 8, pairs=40)
    report.number("weights.random_baseline", baseline)
    rows = []
    stats = {}
    for c, l in enumerate(lams):
        W1, W2 = wd["params"]["dense_0.W"][c], wd["params"]["dense_1.W"][c]
        codes = [len(set(binary_codes(wd["hidden"][c, j]))) for j in range(S)]
        w_abs = float(np.mean([np.abs(W1).mean(), np.abs(W2).mean()]))
        if S > 1:
            r = pairwise_match(W1, W2)
            null = relabelled_null(W1, W2, draws=100, seed=c)         # (pairs, draws)
            null_means = null.mean(axis=0)
            q95 = float(np.quantile(null_means, 0.95))
            above = int(sum(r[p] > np.quantile(null[p], 0.95) for p in range(len(r))))
        else:
            r, null_means, q95, above = np.array([np.nan]), np.array([np.nan]), np.nan, 0
        stats[l] = (r, float(np.mean(null_means)), q95, above, codes)
        rows.append([fmt(l), float(np.mean(r)), float(np.min(r)), float(np.max(r)), float(np.mean(null_means)), q95,
                     f"{above}/{len(r)}", f"{sum(k == 8 for k in codes)}/{S}",
                     choose(w_abs < DECAYED, f"{fmt(w_abs)} (decayed: r means nothing)", fmt(w_abs))])
    report.table(["lambda", "best-match r (mean over seed pairs)", "min", "max",
                  "unrelated solutions: mean r", "unrelated: 95th percentile of the mean",
                  "pairs above their own 95th percentile", "seeds with 8 distinct codes", "mean |W|"],
                 rows, caption="r: Pearson correlation of two runs' weights after the best of the 48 hidden-unit "
                               "permutations and sign flips. Unrelated solutions: a run against another run with its "
                               "8 patterns relabelled (100 random relabellings per pair), equally good and equally "
                               f"structured solutions that are unrelated by construction. Random N(0, 1) matrices "
                               f"score {fmt(baseline)}: lower, because all solutions share structure.")
    r0, null0, q0, above0, codes0 = stats[0.0]
    m = float(np.mean(r0))
    report.number("weights.r_lambda0", m)
    report.number("weights.null_lambda0", null0)
    head = (f"Weights (lambda = 0): after the best hidden-unit permutation and sign flip, the {S} seeds' weights "
            f"correlated r = {fmt(m)} on average (min {fmt(float(np.min(r0)))}); a run against relabelled copies of "
            f"another (unrelated solutions by construction) gives {fmt(null0)}, 95% of such means below {fmt(q0)}")
    same = bool(np.all(r0 > 0.9))
    report.claim("weights.different", not (m > q0),
                 head + ": the seeds found different solutions, no more alike than unrelated ones. (Random matrices "
                        f"score {fmt(baseline)}: the gap to them is the structure every solution has, not a shared "
                        "solution.)",
                 head + ": the seeds' solutions are more alike than unrelated ones"
                 + choose(same, ", all pairs above r = 0.9: the same solution up to relabelling the hidden units.",
                          f" ({above0} of {len(r0)} pairs above their own 95th percentile): related solutions."),
                 {"r": m, "null": null0, "null_q95": q0, "random": baseline},
                 seed="different training runs produce completely different sets of weights (section 11)")
    report.finding(f"{count_of(sum(k == 8 for k in codes0), S, 'seeds')} at lambda = 0 gave the 8 patterns 8 distinct "
                   "binary hidden codes (hidden units thresholded at 0.5).")
    i0 = lams.index(0.0)
    b2 = wd["params"]["dense_1.b"][i0]
    neg = float(np.mean(b2 < 0))
    report.claim("weights.bias_negative", neg > 0.75,
                 f"Output biases at the end (lambda = 0): mean {fmt(float(b2.mean()))}, {neg:.0%} of them negative.",
                 f"Output biases at the end (lambda = 0): mean {fmt(float(b2.mean()))}, only {neg:.0%} of them negative.",
                 {"mean": float(b2.mean()), "negative_share": neg},
                 seed="the biases end with low, negative values (section 11)")
    show = list(range(min(S, 3)))

    def panels(params, c, label):
        return [(f"{label}seed {j}", params["dense_0.W"][c, j], params["dense_0.b"][c, j], params["dense_1.W"][c, j],
                 params["dense_1.b"][c, j]) for j in show]

    final0 = panels(wd["params"], i0, "")
    vmax = max(float(np.abs(a).max()) for p in final0 for a in p[1:])
    report.figure("weights.png", weights_heatmaps(final0, vmax, title=f"lambda = 0 after {s['steps']:,} steps"),
                  f"Hidden and output weights with their biases (b) of {len(show)} seeds after {s['steps']:,} steps "
                  "(lambda = 0).", size=(7.5, 2.3 * len(show) + 0.6))
    report.figure("weights_initial.png", weights_heatmaps(
        panels(wd["init_params"], i0, "initial, "),
        title=f"initial weights, N(0, variance {fmt(s['init_variance'])}) (a different colour scale)"),
                  f"The same networks' initial weights and biases, drawn from N(0, variance {fmt(s['init_variance'])}) "
                  "(the seed's Figure 2); note the colour scale.", size=(7.5, 2.3 * len(show) + 0.6))
    if 0.1 in lams:
        c1 = lams.index(0.1)
        w_max = max(float(np.abs(wd["params"][k][c1]).max()) for k in ("dense_0.W", "dense_1.W"))
        report.figure("weights_lambda_0.1.png", weights_heatmaps(
            panels(wd["params"], c1, "lambda 0.1, "), vmax,
            title=f"lambda = 0.1 after {s['steps']:,} steps: largest |W| {fmt(w_max)}; only the biases are left"),
                      f"Weights and biases after {s['steps']:,} steps at lambda = 0.1, on the colour scale of the "
                      "lambda = 0 figure: the weights have decayed, only the biases remain (the seed's Figures "
                      "11-13 are captioned lambda = 0.1).", size=(7.5, 2.3 * len(show) + 0.6))


__all__ = ["weights_section"]
