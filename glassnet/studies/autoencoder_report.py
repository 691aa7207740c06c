"""The report of study ``autoencoder-838``: every sentence computed from the measured runs.

``analyze(data, settings, report)`` reads what :mod:`autoencoder_838` measured and writes the
findings, tables and figures. It trains nothing, so tests can feed it altered measurements and
watch the wording follow.
"""

from __future__ import annotations

import numpy as np

from .common import final_values, first_below, plateau, steps_stats
from .report import choose, count_of, curves, fmt, names_list, ratio_phrase, step_text
from .solutions import binary_codes, pairwise_match, random_baseline


def _when(med, n, S, horizon):
    """'at step 12,000 (median; all 5 seeds got there)' or 'within 400,000 steps (1 of 5 seeds got there)'."""
    where = f"at step {fmt(int(med))} (median; " if med is not None else f"within {horizon:,} steps ("
    return where + f"{count_of(n, S, 'seeds')} got there)"


def _reach(med, n, S, horizon, thr):
    """'reached loss < 0.05 at step 840 (...)' or 'never reached loss < 0.05 within 10,000 steps (...)'."""
    return ("reached" if med is not None else "never reached") + f" loss < {fmt(thr)} " + _when(med, n, S, horizon)


def _later(a, b):
    """', 1.4x later than lambda = 0' when both happened, '' otherwise."""
    if a is None or b is None:
        return ""
    return ", " + ratio_phrase(a, b, "later than", "earlier than", "at about the same step as")


def summarize(run: dict, threshold: float) -> dict:
    """Per configuration: steps to the threshold per seed, median, count, final loss."""
    steps = run["steps"]
    loss = run["loss"]  # (C, S, T)
    C, S, _ = loss.shape
    reached = [[first_below(steps, loss[c, s], threshold) for s in range(S)] for c in range(C)]
    med = [steps_stats(r) for r in reached]
    return {
        "reached": reached,
        "median_step": [m[0] for m in med],
        "n_reached": [m[1] for m in med],
        "final_loss": final_values(loss),          # (C, S)
        "final_correct": final_values(run["correct"]),
    }


def _curves(run, c=0):
    return run["loss"][c]


def analyze(data, s, report):
    S, H, thr = s["seeds"], s["steps"], s["threshold"]
    # everything below is derived here from the raw curves, so altered measurements give altered text
    data = {k: {**v, "summary": summarize(v, thr)} for k, v in data.items()}
    base = data["base"]
    data["plateaus"] = [plateau(base["steps"], base["loss"][0, j], s["plateau_min_span"], s["plateau_slope_tol"])
                        for j in range(S)]
    _weight_decay(data, s, report, S, H, thr)
    _k_vs_k1(data, s, report, S, H, thr)
    _plateau(data, s, report, S, H)
    _learning_rate(data, s, report, S, H, thr)
    _batch(data, s, report, S, H, thr)
    _weights(data, s, report, S)
    rows = []
    for name, run, labels in (("weight decay", data["wd"], [f"lambda={fmt(v)}" for v in s["weight_decays"]]),
                              ("learning rate", data["lr"], [f"lr={fmt(v)}" for v in s["learning_rates"]]),
                              ("encoding", data["k1"], ["k-1"]), ("batch size", data["b1"], ["batch 1"])):
        sm = run["summary"]
        for c, label in enumerate(labels):
            rows.append([name, label, step_text(sm["median_step"][c], H), f"{sm['n_reached'][c]}/{S}",
                         float(np.nanmean(sm["final_loss"][c]))])
    report.set_summary(["sweep", "setting", f"median step to loss < {fmt(thr)}", "seeds reached",
                        "final loss (mean)"], rows)


def _weight_decay(data, s, report, S, H, thr):
    wd, lams = data["wd"], s["weight_decays"]
    sm = wd["summary"]
    med, n = sm["median_step"], sm["n_reached"]
    report.section("Weight decay")
    report.text(f"Reconstruction loss (half SSE on all 8 patterns, without the penalty) for each lambda, "
                f"lr {fmt(s['base_lr'])}, {S} seeds each; the step is the first at which it fell below {fmt(thr)}.")
    rows = [[fmt(l), step_text(med[c], H), f"{n[c]}/{S}", float(np.nanmean(sm["final_loss"][c])),
             float(np.nanmean(final_values(wd["penalty"][c]))), float(np.nanmean(sm["final_correct"][c]))]
            for c, l in enumerate(lams)]
    report.table(["lambda", f"median step to loss < {fmt(thr)}", "seeds reached", "final loss (mean)",
                  "final penalty (mean)", "patterns decoded (of 8)"], rows)
    i0 = lams.index(0.0)
    report.number("wd.step.lambda0", med[i0])
    parts = [f"with lambda = 0 the network {_reach(med[i0], n[i0], S, H, thr)}"]
    for c, l in enumerate(lams):
        report.number(f"wd.step.{l:g}", med[c])
        report.number(f"wd.final.{l:g}", np.nanmean(sm["final_loss"][c]))
        if c != i0:
            parts.append(f"lambda = {fmt(l)}: {'' if med[c] is not None else 'never '}{_when(med[c], n[c], S, H)}"
                         f"{_later(med[c], med[i0])}"
                         + (" lambda = 0" if _later(med[c], med[i0]) else ""))
    report.finding("Weight decay: " + "; ".join(parts) + ".")
    order = [np.inf if m is None else m for m in med]
    if all(np.isinf(order)):
        report.finding(f"No lambda reached loss < {fmt(thr)} within {H:,} steps.")
    else:
        mono = all(order[i] <= order[i + 1] for i in range(len(order) - 1))
        report.finding(choose(
            mono, "The larger lambda, the later (or never) the loss crossed the threshold: weight decay "
                  "only slowed this network down, which agrees with the seed's Figure 4.",
            "The time to the threshold is not monotonic in lambda (see the table), so this run does not "
            "support the seed's statement that a smaller lambda is always faster."))
    big = int(np.argmax(lams))
    f0, fb = np.nanmean(sm["final_loss"][i0]), np.nanmean(sm["final_loss"][big])
    report.finding(f"After {H:,} steps the reconstruction loss was {fmt(f0)} at lambda = 0 and {fmt(fb)} at "
                   f"lambda = {fmt(lams[big])} ({ratio_phrase(fb, f0, 'higher', 'lower', 'about the same')}).")
    const = wd["constant_loss"]
    stuck = [c for c in range(len(lams)) if abs(np.nanmean(sm["final_loss"][c]) - const) < 0.01 * const]
    if stuck:
        pen = [float(np.nanmean(final_values(wd["penalty"][c]))) for c in stuck]
        report.finding(
            f"lambda = {names_list([fmt(lams[c]) for c in stuck], 'and')} ended at the loss of the input-ignoring "
            f"constant output ({fmt(const, 4)}) with penalties of {names_list([fmt(p) for p in pen], 'and')}: "
            "at that strength the decay drives the weights to zero and the network never leaves the plateau.")
    report.figure("weight_decay.png", curves(
        wd["steps"], {f"lambda={fmt(l)}": _curves(wd, c) for c, l in enumerate(lams)},
        metric="reconstruction loss", title="8-3-8 autoencoder: weight decay",
        hline=wd["constant_loss"]), "Loss per lambda; dotted: the loss of the best input-ignoring output.")


def _k_vs_k1(data, s, report, S, H, thr):
    k, k1 = data["base"], data["k1"]
    a, b = k["summary"], k1["summary"]
    report.section("Encoding: k vs k-1")
    rel = [0.1 * r["constant_loss"] for r in (k, k1)]
    rel_steps = []
    for r, t in zip((k, k1), rel):
        st = [next((int(r["steps"][i]) for i in np.flatnonzero(r["loss"][0, j] < t)), None) for j in range(S)]
        vals = np.array([np.inf if v is None else v for v in st], float)
        m = float(np.median(vals))
        rel_steps.append(None if not np.isfinite(m) else m)
    rows = [[name, r["param_count"], step_text(sm["median_step"][0], H), step_text(rs, H),
             float(np.nanmean(sm["final_loss"][0])), float(np.mean(sm["final_correct"][0] == 8))]
            for name, r, sm, rs in (("k (8 outputs)", k, a, rel_steps[0]), ("k-1 (7 outputs)", k1, b, rel_steps[1]))]
    report.table(["encoding", "parameters", f"median step to loss < {fmt(thr)}",
                  "median step to 10% of constant-output loss", "final loss (mean)", "share of seeds decoding 8/8"],
                 rows, caption="k-1 sums 7 squared errors instead of 8, so its loss is also compared "
                               "relative to its own constant-output loss.")
    mk, mk1 = a["median_step"][0], b["median_step"][0]
    fk, fk1 = np.nanmean(a["final_loss"][0]), np.nanmean(b["final_loss"][0])
    report.number("k.step", mk)
    report.number("k1.step", mk1)
    report.number("k.final", fk)
    report.number("k1.final", fk1)
    report.number("k.params", k["param_count"])
    report.number("k1.params", k1["param_count"])
    if mk is None and mk1 is None:
        speed = f"neither k nor k-1 reached loss < {fmt(thr)} within {H:,} steps"
    elif mk1 is None:
        speed = f"k-1 never reached loss < {fmt(thr)}, k did at step {fmt(mk)}"
    elif mk is None:
        speed = f"k-1 reached loss < {fmt(thr)} at step {fmt(mk1)} while k never did"
    else:
        speed = (f"k-1 reached loss < {fmt(thr)} at step {fmt(mk1)}, "
                 f"{ratio_phrase(mk1, mk, 'later than', 'earlier than', 'about as fast as')} k (step {fmt(mk)})")
    report.finding(f"Encoding: {speed}; final loss k-1 {fmt(fk1)} vs k {fmt(fk)} "
                   f"({ratio_phrase(fk1, fk, 'higher', 'lower', 'about the same')}); k-1 trains "
                   f"{k1['param_count']} parameters, k {k['param_count']}.")
    report.figure("k_vs_k1.png", curves(k["steps"], {"k": k["loss"][0], "k-1": k1["loss"][0]},
                                               metric="reconstruction loss", title="k vs k-1 targets"),
                  "Loss with k and k-1 target encodings (mean, band: lowest to highest seed).")


def _plateau(data, s, report, S, H):
    base, plats = data["base"], data["plateaus"]
    steps = base["steps"]
    const = base["constant_loss"]
    report.section("The plateau")
    found = [j for j, p in enumerate(plats) if p is not None]
    rows = []
    mids = []
    for j, p in enumerate(plats):
        if p is None:
            rows.append([j, "—", "—", "—", "—", "—"])
            continue
        i = int(np.argmin(np.abs(steps - (p.start_step + p.end_step) / 2)))
        mids.append(i)
        rows.append([j, int(p.start_step), int(p.end_step), float(p.level), float(base["gnorm"][0, j, i]),
                     float(base["out_spread"][0, j, i])])
    report.table(["seed", "plateau start", "plateau end", "level", "gradient norm mid-plateau",
                  "output spread mid-plateau"], rows)
    if not found:
        report.finding(f"Plateau: none was detected in the lambda = 0 runs at lr {fmt(s['base_lr'])}.")
        return
    level = float(np.median([plats[j].level for j in found]))
    start = float(np.median([plats[j].start_step for j in found]))
    end = float(np.median([plats[j].end_step for j in found]))
    report.number("plateau.level", level)
    report.number("plateau.constant_loss", const)
    report.number("plateau.n", len(found))
    off = abs(level - const) / const
    report.finding(
        f"Plateau: in {count_of(len(found), S, 'lambda = 0 runs')} the loss stalled at {fmt(level, 4)} "
        f"(median) from step {fmt(int(start))} to step {fmt(int(end))}; "
        + choose(off < 0.02, f"that is within {off:.1%} of {fmt(const, 4)}, the loss of a network that outputs "
                             "the mean target 1/8 for every pattern, i.e. one that ignores its input",
                 f"that is {off:.1%} away from {fmt(const, 4)}, the loss of an input-ignoring network") + ".")
    js = [j for j in found]
    g_mid = np.array([base["gnorm"][0, j, i] for j, i in zip(js, mids)])
    g_max = np.array([np.nanmax(base["gnorm"][0, j]) for j in js])
    sp_mid = np.array([base["out_spread"][0, j, i] for j, i in zip(js, mids)])
    sp_end = np.array([final_values(base["out_spread"][0, j]) for j in js])
    b_mid = np.array([base["b_abs"][0, j, i] for j, i in zip(js, mids)])
    w_mid = np.array([base["w_abs"][0, j, i] for j, i in zip(js, mids)])
    left = int(sum(final_values(base["loss"][0, j]) < 0.5 * plats[j].level for j in js))
    report.number("plateau.gnorm_mid", np.median(g_mid))
    report.number("plateau.bias_over_weight", np.median(b_mid / w_mid))
    report.finding(
        f"Glass box: mid-plateau the outputs varied across the 8 patterns by {fmt(np.median(sp_mid))} "
        f"(mean std), against {fmt(np.median(sp_end))} at the end; the gradient norm was {fmt(np.median(g_mid))}, "
        f"{ratio_phrase(np.median(g_max), np.median(g_mid), 'smaller than', 'larger than', 'the same as')} its "
        f"peak {fmt(np.median(g_max))}. "
        + choose(left == len(js), f"All {len(js)} runs left the plateau, so it is a flat region that gradient "
                                  "descent crosses slowly, not a local minimum that traps it.",
                 f"{left} of {len(js)} runs left it within {H:,} steps."))
    report.finding(
        f"Mid-plateau the mean |bias| was {fmt(np.median(b_mid))} and the mean |weight| {fmt(np.median(w_mid))}: "
        + choose(np.median(b_mid) > 1.5 * np.median(w_mid),
                 f"biases {np.median(b_mid / w_mid):.2g}x larger, as the seed's Figure 8 shows (the biases "
                 "alone produce the constant output).",
                 "the biases were not markedly larger than the weights (the seed's Figure 8 shows larger biases)."))

    def draw(fig):
        j = js[0]
        axes = fig.subplots(3, 1, sharex=True)
        for ax, key, lab, logy in ((axes[0], "loss", "loss", True), (axes[1], "gnorm", "gradient norm", True),
                                   (axes[2], "out_spread", "output spread", False)):
            ax.plot(steps, base[key][0, j], lw=1.2)
            ax.axvspan(plats[j].start_step, plats[j].end_step, color="orange", alpha=0.2)
            ax.set_ylabel(lab, fontsize="small")
            if logy:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0].axhline(const, color="grey", ls=":", lw=1)
        axes[-1].set_xlabel("step")
        axes[0].set_title(f"seed {j}: the plateau (shaded) as detected", fontsize="medium")

    report.figure("plateau.png", draw, "Loss, gradient norm and output spread across patterns for one seed; "
                                       "the shaded band is the detected plateau.", size=(6.4, 5.6))


def _learning_rate(data, s, report, S, H, thr):
    lr, lrs = data["lr"], s["learning_rates"]
    sm = lr["summary"]
    report.section("Learning rate")
    diverged = [(lrs[c], int((lr["status"][c] == "diverged").sum())) for c in range(len(lrs))]
    rows = [[fmt(v), step_text(sm["median_step"][c], H), f"{sm['n_reached'][c]}/{S}",
             float(np.nanmean(sm["final_loss"][c])), diverged[c][1]] for c, v in enumerate(lrs)]
    report.table(["lr", f"median step to loss < {fmt(thr)}", "seeds reached", "final loss (mean)", "diverged"], rows)
    lo, hi = int(np.argmin(lrs)), int(np.argmax(lrs))
    for c, v in enumerate(lrs):
        report.number(f"lr.step.{v:g}", sm["median_step"][c])
    order = [np.inf if m is None else m for m in sm["median_step"]]
    fastest = int(np.argmin(order))
    bad = [f"lr {fmt(v)} ({d} run{'s' if d > 1 else ''})" for v, d in diverged if d]
    report.finding(
        f"Learning rate: lr {fmt(lrs[hi])} {_reach(sm['median_step'][hi], sm['n_reached'][hi], S, H, thr)}; "
        f"lr {fmt(lrs[lo])} {_reach(sm['median_step'][lo], sm['n_reached'][lo], S, H, thr)}"
        + (f"; the fastest was lr {fmt(lrs[fastest])}" if np.isfinite(order[fastest]) else "")
        + "; diverged: " + (names_list(bad) if bad else "none") + ".")
    report.figure("learning_rate.png", curves(lr["steps"], {f"lr={fmt(v)}": lr["loss"][c] for c, v in enumerate(lrs)},
                                                     metric="reconstruction loss", title="learning rate sweep"),
                  "Loss per learning rate (mean, band: lowest to highest seed).")


def _batch(data, s, report, S, H, thr):
    b8, b1 = data["base"]["summary"], data["b1"]["summary"]
    m8, m1 = b8["median_step"][0], b1["median_step"][0]
    f8, f1 = np.nanmean(b8["final_loss"][0]), np.nanmean(b1["final_loss"][0])
    report.section("Batch size: 8 (full batch) vs 1")
    report.table(["batch", f"median step to loss < {fmt(thr)}", "samples seen by then", "final loss (mean)"],
                 [[8, step_text(m8, H), None if m8 is None else 8 * m8, f8],
                  [1, step_text(m1, H), None if m1 is None else m1, f1]])
    report.number("batch1.step", m1)
    report.number("batch8.step", m8)
    if m1 is not None and m8 is not None:
        text = (f"batch 1 reached loss < {fmt(thr)} at step {fmt(m1)}, "
                f"{ratio_phrase(m1, m8, 'later than', 'earlier than', 'at about the same step as')} batch 8 "
                f"(step {fmt(m8)}); counted in samples seen, batch 1 needed {fmt(m1)} and batch 8 {fmt(8 * m8)} "
                f"({ratio_phrase(m1, 8 * m8, 'more', 'fewer', 'about as many')} for batch 1)")
    else:
        text = f"batch 1: {step_text(m1, H)}; batch 8: {step_text(m8, H)}"
    report.finding(f"Batch size: {text}; final loss batch 1 {fmt(f1)} vs batch 8 {fmt(f8)}.")
    report.figure("batch_size.png", curves(data["base"]["steps"], {"batch 8": data["base"]["loss"][0],
                                                                         "batch 1": data["b1"]["loss"][0]},
                                                  metric="reconstruction loss (all 8 patterns)", title="batch size"),
                  "Loss on all 8 patterns per update step, batch 8 vs batch 1 (mean, band: lowest to highest seed).")


def _weights(data, s, report, S):
    report.section("The learned weights: the same solution each time?")
    wd, lams = data["wd"], s["weight_decays"]
    baseline = random_baseline(8, 3, 8, pairs=40)
    report.number("weights.random_baseline", baseline)
    rows = []
    stats = {}
    for c, l in enumerate(lams):
        W1, W2 = wd["params"]["dense_0.W"][c], wd["params"]["dense_1.W"][c]
        r = pairwise_match(W1, W2) if S > 1 else np.array([np.nan])
        codes = [len(set(binary_codes(wd["hidden"][c, j]))) for j in range(S)]
        stats[l] = (r, codes)
        rows.append([fmt(l), float(np.mean(r)), float(np.min(r)), float(np.max(r)),
                     f"{sum(k == 8 for k in codes)}/{S}"])
    report.table(["lambda", "best-match r (mean over seed pairs)", "min", "max", "seeds with 8 distinct codes"],
                 rows, caption=f"r: Pearson correlation of the weights after the best of the 48 hidden-unit "
                               f"permutations and sign flips; unrelated random matrices score {fmt(baseline)}.")
    r0, codes0 = stats[0.0]
    m = float(np.mean(r0))
    report.number("weights.r_lambda0", m)
    verdict = (choose(m > 0.9, "essentially the same solution up to relabelling the hidden units",
               choose(m - baseline < 0.1, "different solutions: no more alike than random matrices after the same matching",
                      "partly similar solutions")))
    report.finding(f"Weights (lambda = 0): the best-match correlation across the {S} seeds averaged {fmt(m)} "
                   f"(random baseline {fmt(baseline)}), so the seeds found {verdict}; "
                   f"{count_of(sum(k == 8 for k in codes0), S, 'seeds')} gave the 8 patterns 8 distinct binary "
                   "hidden codes.")
    b2 = wd["params"]["dense_1.b"][lams.index(0.0)]
    neg = float(np.mean(b2 < 0))
    report.number("weights.b2_negative_share", neg)
    report.finding(f"Output biases at the end (lambda = 0): mean {fmt(float(b2.mean()))}, {neg:.0%} of them negative"
                   + choose(neg > 0.75, " (the seed also found low, negative biases).", "."))
    show = list(range(min(S, 3)))
    i0 = lams.index(0.0)
    mats = [wd["params"]["dense_0.W"][i0, j].T for j in show] + [wd["params"]["dense_1.W"][i0, j] for j in show]
    titles = [f"seed {j}: hidden W (unit x input)" for j in show] + [f"seed {j}: output W (unit x output)" for j in show]

    def draw(fig):
        vmax = max(float(np.abs(a).max()) for a in mats) or 1.0
        axes = fig.subplots(2, len(show), squeeze=False)
        im = None
        for ax, a, t in zip(axes.ravel(order="C"), mats, titles):
            im = ax.imshow(a, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
            ax.set_title(t, fontsize="x-small")
            ax.tick_params(labelsize="x-small")
        fig.colorbar(im, ax=list(axes.ravel()), shrink=0.8)

    report.figure("weights.png", draw, "Hidden and output weights of several seeds (lambda = 0).", size=(8, 4.2))


__all__ = ["analyze"]
