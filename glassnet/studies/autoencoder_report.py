"""The report of study ``autoencoder-838``: every sentence computed from the measured runs.

``analyze(data, settings, report)`` reads what :mod:`autoencoder_838` measured and writes the
findings, tables and figures. It trains nothing, so tests can feed it altered measurements and
watch the wording follow. Each finding that draws a conclusion is a :meth:`Report.claim`: its
sentence is written only when its premise holds on these numbers, the alternative otherwise, and
where the seed says something about it, whether this run agrees.
"""

from __future__ import annotations

import math

import numpy as np

from .autoencoder_figures import lr_collapse, small_multiples
from .autoencoder_weights import DECAYED, weights_section
from .common import final_values, first_below, plateau, steps_stats
from .report import choose, count_of, curves, factor, fmt, names_list, ratio_phrase, step_text

#: "far faster" (the seed's words for k-1): at least this factor fewer steps
FAR = 1.5
#: lr x steps counts as "nearly constant" over the rates when max / min is at most this
NEARLY_CONSTANT = 1.5


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


def _inf(v):
    return np.inf if v is None else float(v)


def crossing(steps, curve, threshold: float):
    """The step at which ``curve`` first falls below ``threshold``, interpolated linearly in
    log(loss) between the last logged point at or above it and the first below; ``None`` if it
    never does (and the first step if it starts below)."""
    curve = np.asarray(curve, dtype=float)
    hit = np.flatnonzero(curve < threshold)
    if not hit.size:
        return None
    i = int(hit[0])
    if i == 0:
        return float(steps[0])
    a, b = curve[i - 1], curve[i]
    if not (np.isfinite(a) and a > 0 and b > 0):
        return float(steps[i])
    t = (math.log(a) - math.log(threshold)) / (math.log(a) - math.log(b))
    return float(steps[i - 1] + t * (steps[i] - steps[i - 1]))


def summarize(run: dict, threshold: float, key: str = "loss") -> dict:
    """Per configuration: steps to the threshold per seed, median, count, final loss."""
    steps = run["steps"]
    loss = run[key]  # (C, S, T)
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


def analyze(data, s, report):
    S, H, thr = s["seeds"], s["steps"], s["threshold"]
    # everything below is derived here from the raw curves, so altered measurements give altered text
    data = {k: {**v, "summary": summarize(v, thr)} for k, v in data.items()}
    for k in ("base", "k1", "k1_targets"):
        data[k]["shared"] = summarize(data[k], thr, "loss_shared")
    base = data["base"]
    data["plateaus"] = [plateau(base["steps"], base["loss"][0, j], s["plateau_min_span"], s["plateau_slope_tol"])
                        for j in range(S)]
    _weight_decay(data, s, report, S, H, thr)
    _k_vs_k1(data, s, report, S, H, thr)
    _plateau(data, s, report, S, H)
    _learning_rate(data, s, report, S, H, thr)
    _batch(data, s, report, S, H, thr)
    weights_section(data, s, report, S)
    rows = []
    for name, run, labels in (("weight decay", data["wd"], [f"lambda={fmt(v)}" for v in s["weight_decays"]]),
                              ("learning rate", data["lr"], [f"lr={fmt(v)}" for v in s["learning_rates"]]),
                              ("encoding", data["k1"], ["k-1, 7-3-7 (the seed's)"]),
                              ("encoding", data["k1_targets"], ["k-1 targets, 8-3-7"]),
                              ("batch size", data["b1"], ["batch 1"])):
        sm = run["summary"]
        for c, label in enumerate(labels):
            rows.append([name, label, step_text(sm["median_step"][c], H), f"{sm['n_reached'][c]}/{S}",
                         float(np.nanmean(sm["final_loss"][c]))])
    report.set_summary(["sweep", "setting", f"median step to loss < {fmt(thr)}", "seeds reached",
                        "final loss (mean)"], rows)


# -- weight decay ---------------------------------------------------------------------------------

def _weight_decay(data, s, report, S, H, thr):
    wd, lams = data["wd"], s["weight_decays"]
    sm = wd["summary"]
    med, n = sm["median_step"], sm["n_reached"]
    W = np.concatenate([np.abs(wd["params"][k]).reshape(len(lams), S, -1) for k in ("dense_0.W", "dense_1.W")], axis=2)
    w_abs = W.mean(axis=2)                                        # (C, S) mean |W| at the end
    w_max = W.max(axis=(1, 2))                                    # (C,) largest |W| over seeds
    report.section("Weight decay")
    report.text(f"Reconstruction loss (half SSE on all 8 patterns, without the penalty) for each lambda, "
                f"lr {fmt(s['base_lr'])}, {S} seeds each, {H:,} steps; the step is the first at which it fell "
                f"below {fmt(thr)}.")
    rows = [[fmt(l), step_text(med[c], H), f"{n[c]}/{S}", float(np.nanmean(sm["final_loss"][c])),
             float(np.nanmean(final_values(wd["penalty"][c]))), float(np.mean(w_abs[c])),
             float(np.nanmean(sm["final_correct"][c]))]
            for c, l in enumerate(lams)]
    report.table(["lambda", f"median step to loss < {fmt(thr)}", "seeds reached", "final loss (mean)",
                  "final penalty (mean)", "final mean |W|", "patterns decoded (of 8)"], rows)
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
    order = [_inf(m) for m in med]
    none_reached = all(np.isinf(order))
    by_lambda = sorted(range(len(lams)), key=lambda c: lams[c])
    mono = all(order[a] <= order[b] for a, b in zip(by_lambda, by_lambda[1:]))
    report.claim(
        "wd.order", mono and not none_reached,
        "The larger lambda, the later (or never) the loss crossed the threshold: weight decay only slowed "
        "this network down.",
        choose(none_reached, f"No lambda reached loss < {fmt(thr)} within {H:,} steps, so this run cannot order them.",
               "The time to the threshold is not monotonic in lambda (see the table): a smaller lambda was "
               "not always faster."),
        {f"step.{l:g}": med[c] for c, l in enumerate(lams)},
        seed="the smaller lambda, the faster the loss drops off (its Figure 4)")
    big = int(np.argmax(lams))
    f0, fb = np.nanmean(sm["final_loss"][i0]), np.nanmean(sm["final_loss"][big])
    report.finding(f"After {H:,} steps the reconstruction loss was {fmt(f0)} at lambda = 0 and {fmt(fb)} at "
                   f"lambda = {fmt(lams[big])} ({ratio_phrase(fb, f0, 'higher', 'lower', 'about the same')}).")
    const = wd["constant_loss"]
    at_const = [c for c in range(len(lams)) if abs(np.nanmean(sm["final_loss"][c]) - const) < 0.01 * const]
    decayed = [c for c in at_const if np.mean(w_abs[c]) < DECAYED]
    finals = [float(np.nanmean(sm["final_loss"][c])) for c in range(len(lams))]
    report.claim(
        "wd.stuck", bool(at_const) and decayed == at_const,
        f"lambda = {names_list([fmt(lams[c]) for c in at_const])} ended at the loss of the input-ignoring constant "
        f"output ({fmt(const, 4)}) with mean |W| {names_list([fmt(float(np.mean(w_abs[c]))) for c in at_const])}: "
        f"at that strength the decay drives the weights to zero and the network did not leave the plateau within "
        f"{H:,} steps.",
        choose(not at_const,
               f"Every lambda left the plateau: final losses {names_list([fmt(f) for f in finals])} against "
               f"{fmt(const, 4)} for the input-ignoring constant output.",
               f"lambda = {names_list([fmt(lams[c]) for c in at_const])} ended at the constant-output loss "
               f"{fmt(const, 4)}, but not all of their weights decayed (mean |W| "
               f"{names_list([fmt(float(np.mean(w_abs[c]))) for c in at_const])}): something else kept them there."),
        {"constant_loss": const, "n_stuck": len(at_const), **{f"w_abs.{lams[c]:g}": np.mean(w_abs[c]) for c in at_const}})
    if 0.1 in lams:
        c1 = lams.index(0.1)
        shrink = s["steps"] * math.log10(max(1.0 - s["base_lr"] * 0.1, 1e-300))
        b2 = float(np.mean(wd["params"]["dense_1.b"][c1]))
        logit = math.log(1 / 7)  # the output bias whose sigmoid is the mean target 1/8
        report.claim(
            "wd.lambda0.1_weights", bool(w_max[c1] > 0.1),
            f"At lambda = 0.1 the weights kept a structure (largest |W| {fmt(float(w_max[c1]))}), like the learned "
            "weights of the seed's Figures 11-13 (weights_lambda_0.1.png).",
            f"At lambda = 0.1 every weight decayed to |W| <= {fmt(float(w_max[c1]))} (final loss "
            f"{fmt(float(np.nanmean(sm['final_loss'][c1])), 4)}, the constant output's {fmt(const, 4)}): only the "
            f"biases are left (weights_lambda_0.1.png), the output biases at {fmt(b2, 4)} (logit(1/8) = "
            f"{fmt(logit, 4)}: every output says 1/8 whatever the input). The data gradient on the plateau is too weak to hold the "
            f"weights against the penalty, which multiplies each by 1 - lr x lambda = {fmt(1 - s['base_lr'] * 0.1)} "
            f"per step: 10^{shrink:,.0f} after {H:,} steps. Figures 11-13 of the seed, captioned lambda = 0.1, "
            "cannot show a network trained at lambda = 0.1 under its own loss.",
            {"w_max": w_max[c1], "final_loss": np.nanmean(sm["final_loss"][c1]), "log10_shrink": shrink,
             "output_bias": b2},
            seed="its Figures 11-13 show the learned weights after 350,000 iterations at alpha = 0.01, lambda = 0.1")
    report.figure("weight_decay.png", small_multiples(
        wd["steps"], {f"lambda = {fmt(l)}": wd["loss"][c] for c, l in enumerate(lams)}, hline=const,
        ylabel="reconstruction loss", hline_label=f"loss of the best input-ignoring output ({fmt(const, 4)})"),
        "Loss per lambda, one panel each (lambda 0.01 and 0.1 would coincide in one panel); thin lines: seeds, "
        "thick: mean, dotted: the loss of the best input-ignoring output.", size=(9.0, 3.0))


# -- k vs k-1 -------------------------------------------------------------------------------------

def _k_vs_k1(data, s, report, S, H, thr):
    k, k1, k1t = data["base"], data["k1"], data["k1_targets"]
    report.section("Encoding: k vs k-1")
    report.text("k's half SSE sums 8 squared errors per pattern and k-1's 7, so the two are compared on the 7 "
                "outputs both have (patterns 2-8; k-1 drops pattern 1's column): sums of 7 terms each, same "
                f"targets. The constant-output loss on those 7 terms is {fmt(k['constant_loss_shared'], 4)} for both.")
    nets = (("k, 8-3-8", k), ("k-1 targets, 8-3-7", k1t), ("k-1, 7-3-7 (the seed's)", k1))
    rows = [[name, r["param_count"], step_text(r["shared"]["median_step"][0], H), f"{r['shared']['n_reached'][0]}/{S}",
             float(np.nanmean(r["shared"]["final_loss"][0])), float(np.nanmean(r["summary"]["final_loss"][0])),
             float(np.mean(r["summary"]["final_correct"][0] == 8))] for name, r in nets]
    report.table(["network", "parameters", f"median step to loss < {fmt(thr)} (7 shared outputs)", "seeds reached",
                  "final loss, 7 shared outputs (mean)", "final loss, own outputs (mean)", "share of seeds decoding 8/8"],
                 rows)
    pk, p1, p1t = k["param_count"], k1["param_count"], k1t["param_count"]
    report.claim("k1.params", pk == 59 and p1 == 52,
                 f"Parameters, counted on the built networks: k (8-3-8) {pk}; the seed's k-1 (7-3-7, k-1 inputs and "
                 f"targets) {p1}; k-1 targets on one-hot inputs (8-3-7) {p1t}.",
                 f"Parameters, counted on the built networks: k {pk}, the k-1 network {p1} (8-3-7: {p1t}), not the "
                 "seed's 59 and 52.",
                 {"k": pk, "k1": p1, "k1_targets": p1t}, seed="the k-1 net trains 52 parameters instead of 59")
    mk, m1, m1t = (r["shared"]["median_step"][0] for r in (k, k1, k1t))
    fk, f1 = (float(np.nanmean(r["shared"]["final_loss"][0])) for r in (k, k1))
    fk_own = float(np.nanmean(k["summary"]["final_loss"][0]))
    for key, v in (("k.step", mk), ("k1.step", m1), ("k1_targets.step", m1t), ("k.final", fk), ("k1.final", f1),
                   ("k.params", pk), ("k1.params", p1), ("k1_targets.params", p1t)):
        report.number(key, v)
    lead = "On the 7 outputs both have, the seed's k-1 net (7-3-7) "
    if m1 is None:
        other = lead + f"never reached loss < {fmt(thr)} within {H:,} steps; k {step_text(mk, H)}."
    elif mk is None:
        other = lead + f"reached loss < {fmt(thr)} at step {fmt(m1)} while k never did within {H:,} steps."
    else:
        other = (lead + f"reached loss < {fmt(thr)} at step {fmt(m1)}, "
                 f"{ratio_phrase(m1, mk, 'later than', 'earlier than', 'about as fast as')} k (step {fmt(mk)})"
                 + choose(m1 < mk, f": faster, but not {FAR:g}x faster.", "."))
    far = m1 is not None and _inf(mk) >= FAR * m1
    seed = "the k-1 model passed the plateau far faster than k (its Figure 7)"
    report.claim("k1.faster", far,
                 lead + f"reached loss < {fmt(thr)} at step {fmt(m1)}"
                 + (f", {factor(mk / m1)} earlier than k (step {fmt(mk)})" if mk is not None else
                    f"; k never did within {H:,} steps") + ": it crossed the plateau far faster.",
                 other, {"k1": m1, "k": mk}, seed=seed if (m1, mk) != (None, None) else None)
    report.claim("k1.lower_loss", f1 < 0.8 * fk,
                 f"After {H:,} steps the k-1 net's loss on the 7 shared outputs was {fmt(f1)} against k's {fmt(fk)} "
                 f"({ratio_phrase(f1, fk, 'higher', 'lower', 'about the same')}): a lower loss on equal terms. "
                 f"(k's own 8-term sum, {fmt(fk_own)}, is not comparable with k-1's 7 terms.)",
                 f"After {H:,} steps the loss on the 7 shared outputs was {fmt(f1)} for k-1 and {fmt(fk)} for k "
                 f"({ratio_phrase(f1, fk, 'higher', 'lower', 'about the same')} for k-1): not clearly lower on equal terms "
                 f"(k's own 8-term sum is {fmt(fk_own)}; comparing it with k-1's 7-term sum would mix unequal sums).",
                 {"k1": f1, "k": fk, "k_own_terms": fk_own},
                 seed="k-1 converged to a lower overall loss after 400,000 iterations")
    if m1 is not None:
        report.claim("k1.targets", m1t is not None and abs(m1t - m1) <= 0.15 * max(m1, m1t),
                     f"k-1 targets on one-hot inputs (8-3-7, {p1t} parameters) reached it at step {fmt(m1t)}, about when "
                     f"the 7-3-7 net did (step {fmt(m1)}): the targets' coding makes the difference, not the inputs' "
                     "or the 3 parameters they save.",
                     f"k-1 targets on one-hot inputs (8-3-7, {p1t} parameters) {step_text(m1t, H)} against the 7-3-7 "
                     f"net's step {fmt(m1)}"
                     + (f" ({ratio_phrase(m1t, m1, 'later', 'earlier', 'about as fast')})" if m1t is not None else "")
                     + ": the coding of the inputs matters as well as that of the targets.",
                     {"k1": m1, "k1_targets": m1t})
    report.figure("k_vs_k1.png", curves(k["steps"], {"k (8-3-8)": k["loss_shared"][0], "k-1 targets (8-3-7)":
                                                     k1t["loss_shared"][0], "k-1 (7-3-7, the seed's)": k1["loss_shared"][0]},
                                        metric="loss on the 7 shared outputs", title="k vs k-1: sums of 7 terms each",
                                        hline=thr),
                  "Loss on the 7 outputs all three networks have (mean, band: lowest to highest seed); dotted: "
                  f"the threshold {fmt(thr)}.")


# -- the plateau ----------------------------------------------------------------------------------

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
    head = (f"Plateau: in {count_of(len(found), S, 'lambda = 0 runs')} the loss stalled at {fmt(level, 4)} "
            f"(median) from step {fmt(int(start))} to step {fmt(int(end))}; ")
    report.claim("plateau.constant", off < 0.02,
                 head + f"that is within {off:.1%} of {fmt(const, 4)}, the loss of a network that outputs the mean "
                        "target 1/8 for every pattern, i.e. one that ignores its input.",
                 head + f"that is {off:.1%} away from {fmt(const, 4)}, the loss of an input-ignoring network, so it is "
                        "not (only) that plateau.",
                 {"level": level, "constant_loss": const, "off": off})
    js = list(found)
    g_mid = np.array([base["gnorm"][0, j, i] for j, i in zip(js, mids)])
    g_max = np.array([np.nanmax(base["gnorm"][0, j]) for j in js])
    sp_mid = np.array([base["out_spread"][0, j, i] for j, i in zip(js, mids)])
    sp_end = np.array([final_values(base["out_spread"][0, j]) for j in js])
    b_mid = np.array([base["b_abs"][0, j, i] for j, i in zip(js, mids)])
    w_mid = np.array([base["w_abs"][0, j, i] for j, i in zip(js, mids)])
    # still on the plateau at the end: any lambda = 0 run (detected or not) whose final loss is
    # within 10% of the constant-output loss
    finals = final_values(base["loss"][0])
    stayed = int(np.sum(finals > 0.9 * const))
    report.number("plateau.gnorm_mid", np.median(g_mid))
    report.number("plateau.bias_over_weight", np.median(b_mid / w_mid))
    report.finding(
        f"Glass box: mid-plateau the outputs varied across the 8 patterns by {fmt(np.median(sp_mid))} "
        f"(mean std), against {fmt(np.median(sp_end))} at the end; the gradient norm was {fmt(np.median(g_mid))}, "
        f"{ratio_phrase(np.median(g_max), np.median(g_mid), 'smaller than', 'larger than', 'the same as')} its "
        f"peak {fmt(np.median(g_max))}.")
    report.claim("plateau.trap", stayed > 0,
                 f"{stayed} of {S} lambda = 0 runs never left the plateau within {H:,} steps (final loss within 10% of "
                 f"{fmt(const, 4)}): at this budget it held them like a local minimum.",
                 f"All {S} lambda = 0 runs left the plateau (final losses {fmt(float(np.min(finals)))} to "
                 f"{fmt(float(np.max(finals)))}; gradient norm mid-plateau {fmt(np.median(g_mid))}, small but never zero), "
                 "so it is a flat region that gradient descent crosses slowly, not a local minimum that traps it.",
                 {"stayed": stayed, "runs": S, "gnorm_mid": np.median(g_mid)},
                 seed="the plateau is a sub-optimal local minimum that gradient descent cannot leave at a low "
                      "learning rate (section 8)")
    ratio = float(np.median(b_mid / w_mid))
    report.claim("plateau.bias", np.median(b_mid) > 1.5 * np.median(w_mid),
                 f"Mid-plateau the mean |bias| was {fmt(np.median(b_mid))} and the mean |weight| {fmt(np.median(w_mid))}: "
                 f"biases {ratio:.2g}x larger (the biases alone produce the constant output).",
                 f"Mid-plateau the mean |bias| was {fmt(np.median(b_mid))} and the mean |weight| {fmt(np.median(w_mid))}: "
                 "the biases were not markedly larger than the weights.",
                 {"bias": np.median(b_mid), "weight": np.median(w_mid)},
                 seed="in the plateau the bias weights are much larger than the other weights (its Figure 8)")

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


# -- learning rate --------------------------------------------------------------------------------

def _learning_rate(data, s, report, S, H, thr):
    lr, lrs = data["lr"], s["learning_rates"]
    sm = lr["summary"]
    report.section("Learning rate")
    diverged = [int((lr["status"][c] == "diverged").sum()) for c in range(len(lrs))]
    cross = [[crossing(lr["steps"], lr["loss"][c, j], thr) for j in range(S)] for c in range(len(lrs))]
    cross_med = [steps_stats(row)[0] for row in cross]
    product = [None if m is None else v * m for v, m in zip(lrs, cross_med)]
    rows = [[fmt(v), step_text(sm["median_step"][c], H), None if cross_med[c] is None else cross_med[c], product[c],
             f"{sm['n_reached'][c]}/{S}", float(np.nanmean(sm["final_loss"][c])), diverged[c]]
            for c, v in enumerate(lrs)]
    report.table(["lr", f"median step to loss < {fmt(thr)}", "crossing step (interpolated, median)",
                  "lr x crossing step", "seeds reached", "final loss (mean)", "diverged"], rows,
                 caption=f"Logged every {s['lr_log_every']:,} steps up to step {s['lr_fine_until']:,}, then every "
                         f"{s['log_every']:,}; the crossing is interpolated in log(loss) between "
                         "the two logged points around it. lr x step is the distance travelled along the gradient "
                         "flow." + (f" The lr {fmt(s['base_lr'])} runs are the weight decay table's lambda = 0 runs "
                                    "(the same networks, trained once)."
                                    if s["base_lr"] in lrs and 0.0 in s["weight_decays"] else ""))
    lo, hi = int(np.argmin(lrs)), int(np.argmax(lrs))
    for c, v in enumerate(lrs):
        report.number(f"lr.step.{v:g}", sm["median_step"][c])
        report.number(f"lr.product.{v:g}", product[c])
    order = [_inf(m) for m in sm["median_step"]]
    fastest = int(np.argmin(order))
    bad = [f"lr {fmt(v)} ({d} run{'s' if d > 1 else ''})" for v, d in zip(lrs, diverged) if d]
    report.finding(
        f"Learning rate: lr {fmt(lrs[hi])} {_reach(sm['median_step'][hi], sm['n_reached'][hi], S, H, thr)}; "
        f"lr {fmt(lrs[lo])} {_reach(sm['median_step'][lo], sm['n_reached'][lo], S, H, thr)}"
        + (f"; the fastest was lr {fmt(lrs[fastest])}" if np.isfinite(order[fastest]) else "")
        + "; diverged: " + (names_list(bad) if bad else "none") + ".")
    got = [c for c in sorted(range(len(lrs)), key=lambda c: lrs[c]) if product[c] is not None]
    listing = names_list([f"{fmt(product[c])} at lr {fmt(lrs[c])}" for c in got])
    never = [fmt(lrs[c]) for c in range(len(lrs)) if product[c] is None]
    missing = f" (lr {names_list(never)} did not get there within {H:,} steps)" if never else ""
    if len(got) >= 2:
        first, last = product[got[0]], product[got[-1]]
        spread = max(product[c] for c in got) / min(product[c] for c in got)
        shrank = last < 0.5 * first
        otherwise = choose(
            spread <= NEARLY_CONSTANT,
            f"lr x steps to loss < {fmt(thr)} was nearly constant: {listing}, within a factor {spread:.3g}{missing}. "
            f"A larger rate crosses the same plateau in fewer steps; it does not remove it.",
            f"lr x steps to loss < {fmt(thr)} was {listing}{missing}: not constant (a factor {spread:.3g}), but the "
            f"largest rate did not need less than half the smallest's: it did not remove the plateau.")
        report.claim("lr.plateau_removed", shrank,
                     f"lr x steps to loss < {fmt(thr)} fell from {fmt(first)} at lr {fmt(lrs[got[0]])} to {fmt(last)} at "
                     f"lr {fmt(lrs[got[-1]])} ({listing}{missing}): a larger rate shortened the way along the gradient "
                     "flow, i.e. it cut the plateau itself, not only walked it in bigger steps.",
                     otherwise, {"first": first, "last": last, "spread": spread},
                     seed="increasing the learning rate reduces or completely eliminates the plateau (sections 8-9)")
    else:
        report.finding(f"Fewer than two learning rates reached loss < {fmt(thr)} within {H:,} steps, so lr x steps "
                       "cannot be compared.")
    ok = sm["n_reached"][hi] == S and diverged[hi] == 0
    report.claim("lr.highest", ok,
                 f"lr {fmt(lrs[hi])} converged in all {S} seeds (final loss {fmt(float(np.nanmean(sm['final_loss'][hi])))}), "
                 "none diverged.",
                 f"lr {fmt(lrs[hi])}: {sm['n_reached'][hi]} of {S} seeds reached loss < {fmt(thr)}, {diverged[hi]} diverged.",
                 {"reached": sm["n_reached"][hi], "diverged": diverged[hi]},
                 seed=f"learning rates as high as {fmt(lrs[hi])} succeed")
    report.figure("learning_rate.png", lr_collapse(lr["steps"], lrs, lr["loss"], thr),
                  "Mean loss per learning rate against the step (left) and against lr x step (right); dotted: the "
                  f"threshold {fmt(thr)}. Curves that fall on one another on the right walk the same path.",
                  size=(9.0, 3.8))


# -- batch size -----------------------------------------------------------------------------------

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
        per_update = ratio_phrase(m1, m8, 'later than', 'earlier than', 'at about the same step as')
        samples = (f"; counted in samples seen, batch 1 needed {fmt(m1)} and batch 8 {fmt(8 * m8)} "
                   f"({ratio_phrase(m1, 8 * m8, 'more', 'fewer', 'about as many')} for batch 1)")
        drastic = not (1 / FAR <= m1 / m8 <= FAR)
        text = f"batch 1 reached loss < {fmt(thr)} at step {fmt(m1)}, {per_update} batch 8 (step {fmt(m8)}){samples}"
    else:
        drastic = (m1 is None) != (m8 is None)
        text = f"batch 1: {step_text(m1, H)}; batch 8: {step_text(m8, H)}"
    tail = f"; final loss batch 1 {fmt(f1)} vs batch 8 {fmt(f8)}."
    report.claim("batch.drastic", drastic,
                 f"Batch size: {text}: per update, a drastic difference{tail}",
                 f"Batch size: {text}: per update, no drastic difference{tail}",
                 {"batch1": m1, "batch8": m8},
                 seed="setting the batch size to 1 has drastic effects on the convergence (its Figure 10)")
    report.figure("batch_size.png", curves(data["base"]["steps"], {"batch 8": data["base"]["loss"][0],
                                                                   "batch 1": data["b1"]["loss"][0]},
                                           metric="reconstruction loss (all 8 patterns)", title="batch size"),
                  "Loss on all 8 patterns per update step, batch 8 vs batch 1 (mean, band: lowest to highest seed).")


__all__ = ["analyze", "crossing", "summarize"]
