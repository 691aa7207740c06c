"""The analysis of study ``activations``: a pure function of its measurements.

Every finding is a claim (:meth:`~glassnet.studies.report.Report.claim`): written only when its
premise holds on the numbers, the alternative (what happened instead) otherwise, each with the
numbers it rests on, and what the seed says where the measurement tests it. Comparisons between
activations use one budget (learning rate, batch, steps, initial-weight seeds), stated in the text.
"""

from __future__ import annotations

import math

import numpy as np

from .common import first_above, steps_stats
from .panels import color, legend_outside, log_limits, seed_lines
from .report import count_of, fmt, names_list, pct, ratio_phrase, step_text

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "linear")
HIGH = ("relu", "leaky_relu", "elu")
HIDDEN = 4
#: the seed's hand computation (seed 004, question 1.4): softmax(7, 1, 2.2) and the cross-entropy
SEED_SOFTMAX = {"z": (7.0, 1.0, 2.2), "p": (0.989, 0.0025, 0.0081), "ce": 0.011}
#: a "spike": the training-set loss rises above this many times its lowest value so far
SPIKE = 3.0
#: sigmoid outputs read as probabilities are "calibrated" when the expected calibration error is below this
ECE_OK = 0.05
SEED = {
    "linear": "that stacked linear layers only learn a linear function of the input (seed 004, question 1.1)",
    "outperform": "that ReLU is generally outperformed by ELU and LeakyReLU (question 4)",
    "vanishing": "that sigmoid suffers from vanishing gradients (seed 004, question 1.3)",
    "elu_faster": "that ELU, smooth everywhere, speeds up gradient descent compared with ReLU (question 3)",
    "elu_mean": "that ELU's average output is closer to 0 than ReLU's, which cannot output negative values (question 3)",
    "cost": "that sigmoid and tanh are computationally more expensive than ReLU (seed 004, question 1.3)",
    "softmax": "softmax(7, 1, 2.2) = (98.9%, 0.25%, 0.81%) with cross-entropy 0.011 (seed 004, question 1.4)",
    "tanh": "that a tanh output is useful when the output must lie between -1 and 1 (question 4)",
    "sigmoid": "that a sigmoid output predicts the probability of belonging to a class, for binary classification "
               "(question 4)",
    "softmax_out": "that a softmax output predicts probabilities for mutually exclusive classes (question 4)",
}


def _span(values, f=fmt) -> str:
    """``'a'`` when all equal, else ``'lo - hi'``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "—"
    lo, hi = f(float(v.min())), f(float(v.max()))
    return lo if lo == hi else f"{lo} - {hi}"


def _stats(r, S, target, drop) -> dict:
    """What one activation's runs did: reach, best and final training accuracy per seed, fall-backs,
    dead units at the best and at the end, spikes, test accuracy, mean hidden output."""
    acc, loss, steps = r["accuracy"], r["loss"], r["steps"]
    reach = [first_above(steps, acc[j], target) for j in range(S)]
    med, n = steps_stats(reach)
    ibest = np.argmax(acc, axis=1)
    best, final = acc.max(axis=1), acc[:, -1]
    spikes = []
    for j in range(S):
        run_min = np.minimum.accumulate(loss[j])
        high = loss[j] > SPIKE * run_min
        spikes.append(int(np.sum(high[1:] & ~high[:-1])))
    means = np.stack([r[f"mean/dense_{i}"] for i in range(HIDDEN)])    # (layers, S, T)
    # a seed "fell back" when it reached the target and ended more than ``drop`` below its best
    fell = (best >= target) & (final < best - drop)
    return {"reach": med, "n": n, "best": best, "final": final, "fell": fell, "ibest": ibest,
            "dead_best": r["dead"][np.arange(S), ibest], "dead_end": r["dead"][:, -1], "spikes": np.array(spikes),
            "test": np.asarray(r["test_accuracy"], dtype=float), "loss_end": loss[:, -1],
            "mean0": float(np.median(means[:, :, 0].mean(axis=0))), "mean_end": float(np.median(means[:, :, -1].mean(axis=0)))}


def analyze(data, s, report) -> None:
    runs, S, H, target = data["runs"], s["seeds"], s["steps"], s["accuracy target"]
    drop = s.get("fell back when below best by", 0.05)
    layers = [f"dense_{i}" for i in range(HIDDEN + 1)]
    st = {a: _stats(runs[(a, "normal")], S, target, drop) for a in ACTIVATIONS}
    for a in ACTIVATIONS:
        r = runs[(a, "normal")]
        g0 = np.array([np.median(r[f"grad/{L}"][:, 0]) for L in layers])
        st[a]["ratio0"] = float(g0[0] / g0[-1]) if g0[-1] > 0 else np.nan
        st[a]["us"] = data["step_seconds"][a] * 1e6
        report.number(f"test_accuracy.{a}", float(np.mean(st[a]["test"])))
        report.number(f"reach.{a}", st[a]["reach"])
        report.number(f"grad_ratio.{a}", st[a]["ratio0"])
        report.number(f"step_us.{a}", st[a]["us"])
    report.set_summary(
        ["activation", f"median step to {pct(target, 0)} train acc", "seeds reached", "test accuracy",
         "test accuracy (lowest - highest seed)", "seeds that fell back", "grad norm first/last layer (step 0)",
         "dead units at end (mean)", "us per forward+backward"],
        [[a, step_text(st[a]["reach"], H), f"{st[a]['n']}/{S}", pct(float(np.mean(st[a]["test"]))),
          _span(st[a]["test"], pct), f"{int(st[a]['fell'].sum())}/{S}", st[a]["ratio0"],
          float(np.mean(st[a]["dead_end"])), st[a]["us"]] for a in ACTIVATIONS])
    budget = (f"lr {fmt(s['lr'])} with momentum 0.9, batch {s['batch_size']}, {H:,} steps, the same {S} initial-weight "
              f"seeds for every activation")
    report.intro.append(f"Budget of every comparison between activations: {budget}.")
    _speed_claims(report, st, s, data)
    _accuracy_claims(report, st, s)
    _gradient_claim(report, st)
    _mean_output_claim(report, st)
    _high_lr_claims(report, runs, st, s)
    _cost_claim(report, data, st, s)
    _softmax_claim(report, data)
    _output_claims(report, data, st, s)
    _tables(report, runs, layers)
    _figures(report, data, st, s)


# -- speed, stability, accuracy -------------------------------------------------------------------
def _speed_claims(report, st, s, data) -> None:
    S, H, target = s["seeds"], s["steps"], s["accuracy target"]
    order = sorted(ACTIVATIONS, key=lambda a: (np.inf if st[a]["reach"] is None else st[a]["reach"],
                                               -float(np.mean(st[a]["test"]))))
    never = [a for a in ACTIVATIONS if st[a]["reach"] is None]
    head = (f"Training speed (median step to {pct(target, 0)} training accuracy): "
            + names_list([f"{a} {step_text(st[a]['reach'], H)}" for a in order if st[a]["reach"] is not None])
            + (f"; never within {H:,} steps: {names_list(never)}" if never else ""))
    best = order[0]
    if st[best]["reach"] is None:
        report.claim("speed.fastest_kept", False, "", head + ". No activation reached it.", {})
    else:
        fin = st[best]["final"]
        low = int(np.sum(fin < target))
        report.claim("speed.fastest_kept", low == 0,
                     head + f". Fastest: {best}, and it stayed there (final training accuracy {_span(fin, pct)} on "
                            f"{count_of(S, S, 'seeds')}).",
                     head + f". Fastest: {best}, but it did not stay there: its final training accuracy was "
                            f"{_span(fin, pct)}, below {pct(target, 0)} on {count_of(low, S, 'seeds')}.",
                     {"fastest_reach": st[best]["reach"], "fastest_final_min": float(fin.min())})
    # seed 000 q3: ELU faster than ReLU?
    e, r = st["elu"]["reach"], st["relu"]["reach"]
    per = {a: data["activation_seconds"][a] / data["timing_values"] * 1e9 for a in ("elu", "relu")}
    head = (f"ELU against ReLU at the same budget: median step to {pct(target, 0)} training accuracy ELU "
            f"{step_text(e, H)}, ReLU {step_text(r, H)}")
    cost = (f"; and each ELU step costs more, not less (its exponential: {fmt(per['elu'])} against {fmt(per['relu'])} "
            "ns per value for the activation alone)")
    if e is None and r is None:
        report.claim("elu_faster_than_relu", False, "", head + ": neither got there, so neither was faster.",
                     {"elu": None, "relu": None}, seed=SEED["elu_faster"])
        return
    faster = e is not None and (r is None or e < r)
    if e is not None and r is not None:
        cmp = f": ELU was {ratio_phrase(e, r, 'slower', 'faster', 'as fast')} in steps"
    else:
        cmp = ": only ELU got there" if e is not None else ": only ReLU got there"
    report.claim("elu_faster_than_relu", faster, head + cmp + ".",
                 head + cmp + (cost if per["elu"] > per["relu"] else "") + ".",
                 {"elu": e, "relu": r, "elu_ns": per["elu"], "relu_ns": per["relu"]}, seed=SEED["elu_faster"])


def _accuracy_claims(report, st, s) -> None:
    S, target = s["seeds"], s["accuracy target"]
    drop = s.get("fell back when below best by", 0.05)
    learners = [a for a in ACTIVATIONS if st[a]["n"] > 0]
    unstable = [a for a in learners if st[a]["fell"].any()]
    spiky = [f"{a} {count_of(int((st[a]['spikes'] > 0).sum()), S, 'seeds')}" for a in learners if st[a]["spikes"].any()]
    spikes = (f" Transient spikes (training-set loss above {fmt(SPIKE)}x its lowest so far): "
              + (names_list(spiky) if spiky else "none") + ".")
    kept = [a for a in learners if a not in unstable]
    report.claim(
        "stability", not unstable,
        f"Stability: every activation that reached {pct(target, 0)} ({names_list(learners)}) ended within "
        f"{100 * drop:g} points of its best training accuracy on every seed." + spikes,
        "Not every run was stable: "
        + "; ".join(f"{a} reached a best training accuracy of {_span(st[a]['best'][st[a]['fell']], pct)} and fell back "
                    f"to {_span(st[a]['final'][st[a]['fell']], pct)} on {count_of(int(st[a]['fell'].sum()), S, 'seeds')}"
                    for a in unstable)
        + (f"; {names_list(kept)} ended within {100 * drop:g} points of {'its' if len(kept) == 1 else 'their'} best."
           if kept else ".") + spikes,
        {f"fell_back.{a}": int(st[a]["fell"].sum()) for a in ACTIVATIONS})
    r = st["relu"]
    fell = r["fell"]
    base = (f"ReLU at lr {fmt(s['lr'])}: best training accuracy {_span(r['best'], pct)}, final {_span(r['final'], pct)}, "
            f"test accuracy {_span(r['test'], pct)} (mean {pct(float(np.mean(r['test'])))})")
    if not fell.any():
        report.claim("relu.fallback_dead", False, "",
                     base + f": it kept its accuracy on {count_of(S, S, 'seeds')} (dead units at the end "
                            f"{_span(r['dead_end'])}).", {"fell_back": 0})
    else:
        grew = bool(np.all(r["dead_end"][fell] > r["dead_best"][fell]))
        k = count_of(int(fell.sum()), S, "seeds")
        dead = (f"on those seeds the dead units (never positive on any training point) went from "
                f"{_span(r['dead_best'][fell])} at its best to {_span(r['dead_end'][fell])} at the end")
        report.claim("relu.fallback_dead", grew,
                     base + f": it fell back on {k}, and {dead} — a dead unit gets no gradient and cannot come back, "
                            "so what it had learned is lost: training at this rate was unstable, not simply fast.",
                     base + f": it fell back on {k}, but {dead}: dead units do not explain the fall-back.",
                     {"fell_back": int(fell.sum()), "dead_at_best": float(np.mean(r["dead_best"][fell])),
                      "dead_at_end": float(np.mean(r["dead_end"][fell]))})
    lin = float(np.mean(st["linear"]["test"]))
    top = max(float(np.mean(st[a]["test"])) for a in ACTIVATIONS)
    accs = [f"{a} {pct(float(np.mean(st[a]['test'])))} ({_span(st[a]['test'], pct)})" for a in ACTIVATIONS]
    head = f"Test accuracy (mean over seeds, lowest - highest): {names_list(accs)}; "
    report.claim("linear_gap", top - lin > 0.1,
                 head + f"the linear network stays {100 * (top - lin):.0f} points behind the best: stacked linear layers "
                        "are one linear map, a straight boundary that cannot separate spirals.",
                 head + "the linear network is not far behind on this data.",
                 {"linear": lin, "best": top}, seed=SEED["linear"])
    m = {a: float(np.mean(st[a]["test"])) for a in ("relu", "leaky_relu", "elu")}
    # a difference counts when it exceeds 1 point and twice its standard error over the seeds
    se = {a: float(np.sqrt(np.var(st[a]["test"], ddof=1) / S + np.var(st["relu"]["test"], ddof=1) / S)) if S > 1
          else 0.0 for a in ("leaky_relu", "elu")}
    better = [a for a in ("elu", "leaky_relu") if m[a] - m["relu"] > max(0.01, 2 * se[a])]
    head = (f"ELU and LeakyReLU against ReLU, same budget: test accuracy ELU {pct(m['elu'])}, LeakyReLU "
            f"{pct(m['leaky_relu'])}, ReLU {pct(m['relu'])} (standard error of the difference from ReLU: ELU "
            f"{100 * se['elu']:.1f} points, LeakyReLU {100 * se['leaky_relu']:.1f})")
    rule = "by more than 1 point and twice that error"
    report.claim("outperform_relu", len(better) == 2,
                 head + f": both beat ReLU {rule}.",
                 head + ": " + (f"only {better[0]} beat ReLU {rule}." if better else f"neither beat ReLU {rule}."),
                 m | {f"se.{a}": v for a, v in se.items()}, seed=SEED["outperform"])


def _gradient_claim(report, st) -> None:
    sig, relu = st["sigmoid"]["ratio0"], st["relu"]["ratio0"]
    head = (f"Gradient norms at step 0, first hidden layer over output layer: sigmoid {fmt(sig)}, tanh "
            f"{fmt(st['tanh']['ratio0'])}, ReLU {fmt(relu)}, ELU {fmt(st['elu']['ratio0'])}; ")
    report.claim("vanishing_sigmoid", bool(sig < 0.5 * relu),
                 head + f"sigmoid's first layer learns from a gradient "
                        f"{ratio_phrase(relu, sig, 'smaller', 'larger', 'as large')} (relative to its output layer) than "
                        "ReLU's: sigmoid' <= 0.25 shrinks the gradient at every layer (vanishing gradients).",
                 head + "sigmoid's first layer was not starved relative to ReLU's here.",
                 {"sigmoid": sig, "relu": relu}, seed=SEED["vanishing"])


def _mean_output_claim(report, st) -> None:
    e0, r0, e1, r1 = st["elu"]["mean0"], st["relu"]["mean0"], st["elu"]["mean_end"], st["relu"]["mean_end"]
    others = names_list([f"{a} {fmt(st[a]['mean0'])} / {fmt(st[a]['mean_end'])}" for a in ("leaky_relu", "tanh")])
    head = (f"Mean output of the hidden units (every unit of the {HIDDEN} hidden layers on every training point, median "
            f"over seeds), at step 0 / at the end: ELU {fmt(e0)} / {fmt(e1)}, ReLU {fmt(r0)} / {fmt(r1)} ({others})")
    start, end = abs(e0) < abs(r0), abs(e1) < abs(r1)
    when = names_list([w for w, ok in (("at the start", start), ("after training", end)) if not ok], "or")
    report.claim("elu_mean_near_zero", start and end,
                 head + ": ELU's mean is closer to 0 than ReLU's, at the start and after training.",
                 head + f": ELU's mean was not closer to 0 than ReLU's {when}.",
                 {"elu_start": e0, "relu_start": r0, "elu_end": e1, "relu_end": r1}, seed=SEED["elu_mean"])


# -- the large learning rate ------------------------------------------------------------------------
def _high_lr_claims(report, runs, st, s) -> None:
    S, target = s["seeds"], s["accuracy target"]
    hi_lr, total = s["high lr (dying ReLU run)"], HIDDEN * s["width"]
    hi = {a: runs[(a, "high")] for a in HIGH}
    d_relu = float(np.mean(hi["relu"]["dead"][:, -1]))
    d_norm = float(np.mean(st["relu"]["dead_end"]))
    peak = float(np.mean(hi["relu"]["dead"].max(axis=1)))
    fl = {a: hi[a]["loss"][:, -1] for a in HIGH}
    report.number("dead.relu.high_lr", d_relu)
    report.number("dead.relu.normal_lr", d_norm)
    report.number("high_lr.final_loss.relu", float(np.mean(fl["relu"])))
    head = (f"Dead units (never positive on the training set): ReLU ended with {fmt(d_norm)} of {total} at lr "
            f"{fmt(s['lr'])} and {fmt(d_relu)} at lr {fmt(hi_lr)} (mean over seeds; peak {fmt(peak)}"
            + (", so none came back)" if peak <= d_relu else ", so some came back as earlier layers changed)"))
    spread = hi["relu"]["pred_spread"][:, -1]
    const = spread < 1e-6
    loss = f"its final training loss was {_span(fl['relu'])} (ln 2 = 0.693 is the loss of a constant 50% guess)"
    report.claim("high_lr.relu_dead", bool(const.all()) and d_relu > 0,
                 head + f"; at lr {fmt(hi_lr)} its output was the same for every training point on "
                        f"{count_of(S, S, 'seeds')} (spread of the predictions below 1e-6) and " + loss
                 + ": its dead units left nothing that could learn.",
                 head + f"; at lr {fmt(hi_lr)} its output still varied across the training points on "
                        f"{count_of(int((~const).sum()), S, 'seeds')} (spread up to {fmt(float(spread.max()))}) and "
                 + loss + ": the dead units had not silenced the whole network.",
                 {"dead": d_relu, "final_loss": float(np.mean(fl["relu"])), "spread_max": float(spread.max())})
    for a, slope in (("leaky_relu", "slope 0.01"), ("elu", "slope exp(z)")):
        h = hi[a]
        acc = h["accuracy"][:, -1]
        stuck = float(np.mean(h["stuck"][:, -1]))
        sat = float(np.mean(h["saturated"][:, -1]))
        head = (f"{a} at lr {fmt(hi_lr)} (same budget as ReLU): {fmt(stuck)} of {total} units on their negative side at "
                f"the end, where they still pass a gradient ({slope}); final training loss {_span(fl[a])}, training "
                f"accuracy {_span(acc, pct)}")
        learned = float(np.mean(acc)) >= target
        why = ""
        if sat > 0.5:
            why = (f"; its sigmoid output sat within 1e-6 of 0 or 1 on {pct(sat)} of the training points (mean over "
                   f"seeds; median |z| at the output {fmt(float(np.median(h['out_absz'][:, -1])))}): the weights grew "
                   "until the output saturated and stopped passing a gradient")
        report.claim(f"high_lr.learns.{a}", learned,
                     head + f": it still learned (mean training accuracy at least {pct(target, 0)}).",
                     head + f": it did not learn (mean training accuracy below {pct(target, 0)}; ReLU's loss "
                            f"{_span(fl['relu'])}) — a gradient on the negative side did not save training at this "
                            "rate" + why + ".",
                     {"final_accuracy": float(np.mean(acc)), "final_loss": float(np.mean(fl[a])), "stuck": stuck,
                      "saturated": sat})


# -- cost, softmax, output layers -------------------------------------------------------------------
def _cost_claim(report, data, st, s) -> None:
    t = {a: data["activation_seconds"][a] / data["timing_values"] * 1e9 for a in ACTIVATIONS}
    dearer = [a for a in ("sigmoid", "tanh") if t[a] > 1.05 * t["relu"]]
    per_step = s["batch_size"] * HIDDEN * s["width"]  # hidden values one forward pass computes
    head = (f"Cost of the activation alone (value and derivative on {data['timing_values']:,} values, best of "
            f"{s.get('timing rounds', 5)} interleaved rounds), in ns per value: "
            + names_list([f"{a} {fmt(t[a])}" for a in sorted(t, key=t.get)])
            + f"; ELU is {ratio_phrase(t['elu'], t['relu'], 'slower than', 'faster than', 'as fast as')} ReLU. For the "
              f"{per_step:,} hidden values of one training step here that is about "
            + names_list([f"{fmt(t[a] * per_step / 1e3)} us ({a})" for a in ("relu", "elu", "sigmoid")])
            + " (whole steps, in the summary, also include the matrix products and the optimizer)")
    report.claim("cost_relu_cheaper", len(dearer) == 2,
                 head + ". Sigmoid and tanh each cost more than ReLU.",
                 head + ". " + (f"Only {dearer[0]} cost more than ReLU." if dearer else
                                "Neither sigmoid nor tanh cost more than ReLU (by more than 5%)."),
                 {f"ns.{a}": t[a] for a in ACTIVATIONS}, seed=SEED["cost"])


def _softmax_claim(report, data) -> None:
    p, ce = data["softmax"], data["cross_entropy"]
    ref = SEED_SOFTMAX
    err = float(np.max(np.abs(p - np.array(ref["p"]))))
    report.number("softmax.p0", p[0])
    report.number("softmax.ce", ce)
    head = (f"Softmax of z = (7, 1, 2.2): ({pct(p[0], 2)}, {pct(p[1], 2)}, {pct(p[2], 2)}), predicted class A; "
            f"cross-entropy for label A {fmt(ce, 3)}")
    report.claim("softmax_by_hand", err < 0.001 and abs(ce - ref["ce"]) < 0.001,
                 head + ", as the seed's hand computation.",
                 head + f"; the seed's hand computation differs by up to {pct(err, 2)}.",
                 {"p0": float(p[0]), "ce": ce}, seed=SEED["softmax"])


def _ece(p, y, bins: int = 10) -> float:
    """Expected calibration error: the mean over equal-width bins of predicted probability of
    |mean prediction - share of class 1|, weighted by the bin's share of points."""
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(float(p[m].mean()) - float(y[m].mean()))
    return total


def _output_claims(report, data, st, s) -> None:
    rg = data["range"]
    y, out = rg["y"], rg["outputs"]
    mse = {a: float(np.mean((out[a]["pred"] - y) ** 2)) for a in out}
    neg = y < 0
    sig_neg = float(np.mean((out["sigmoid"]["pred"][:, neg] - y[neg]) ** 2))
    lo = {a: float(out[a]["grid"].min()) for a in out}
    hi = {a: float(out[a]["grid"].max()) for a in out}
    reach = float(np.max(np.abs(rg["grid_x"])))
    head = (f"Output layer for targets in [-0.9, 0.9] (y = 0.9 sin(pi x), 1-16-1 tanh hidden, same budget, "
            f"{s['output-layer steps']:,} steps): tanh output MSE {fmt(mse['tanh'])}, its outputs between "
            f"{fmt(lo['tanh'])} and {fmt(hi['tanh'])} even for inputs up to |x| = {fmt(reach)}; sigmoid output MSE "
            f"{fmt(mse['sigmoid'])} ({fmt(sig_neg)} on the negative targets, lowest output {fmt(lo['sigmoid'])}); "
            f"linear output MSE {fmt(mse['linear'])}, outputs from {fmt(lo['linear'])} to {fmt(hi['linear'])}")
    fits = mse["tanh"] < 0.01 and mse["sigmoid"] > 10 * mse["tanh"]
    report.claim("output_tanh_range", fits,
                 head + ": a tanh output fits targets in [-1, 1] and never leaves that range; a sigmoid output, "
                        "confined to (0, 1), cannot reach the negative targets"
                 + ("; a linear output fits them too but leaves [-1, 1] outside the training inputs."
                    if max(abs(lo["linear"]), abs(hi["linear"])) > 1 else "."),
                 head + ": the tanh output did not fit clearly better than the sigmoid output here.",
                 {"mse_tanh": mse["tanh"], "mse_sigmoid": mse["sigmoid"], "mse_linear": mse["linear"]},
                 seed=SEED["tanh"])
    labels = data["test_labels"]
    good = [(a, j) for a in ACTIVATIONS for j in range(s["seeds"]) if st[a]["test"][j] >= s["accuracy target"]]
    if good:
        p = np.concatenate([data["runs"][(a, "normal")]["test_pred"][j] for a, j in good])
        yl = np.concatenate([labels for _ in good])
        ece = _ece(p, yl)
        head = (f"The spiral networks' sigmoid output read as P(class 1) on the test set ({len(good)} networks with test "
                f"accuracy at least {pct(s['accuracy target'], 0)}, {len(p):,} predictions): mean prediction "
                f"{fmt(float(p.mean()))} against a class-1 share of {fmt(float(yl.mean()))}; expected calibration "
                f"error {fmt(ece)} (10 bins)")
        report.claim("output_sigmoid_probability", ece < ECE_OK,
                     head + f": the outputs behave as probabilities (error below {fmt(ECE_OK)}).",
                     head + f": not calibrated probabilities here (error {fmt(ece)} >= {fmt(ECE_OK)}) — the "
                            "networks are more confident than they are right.",
                     {"ece": ece, "networks": len(good)}, seed=SEED["sigmoid"])
    else:
        report.claim("output_sigmoid_probability", False, "",
                     f"No spiral network reached {pct(s['accuracy target'], 0)} test accuracy, so its sigmoid output "
                     "was not read as a probability.", {"networks": 0})
    cl = data["classes"]
    dev = {a: float(np.max(np.abs(cl[a]["sums"] - 1))) for a in cl}
    acc = {a: float(np.mean(cl[a]["accuracy"])) for a in cl}
    head = (f"Three classes (blobs, 2-16-3 tanh hidden, same budget): softmax outputs summed to 1 within "
            f"{fmt(dev['softmax'])} on every test point, test accuracy {pct(acc['softmax'])}; three independent "
            f"sigmoid outputs summed to {_span(cl['sigmoid']['sums'])}, test accuracy {pct(acc['sigmoid'])}")
    report.claim("output_softmax", dev["softmax"] < 1e-9 and acc["softmax"] >= s["accuracy target"],
                 head + ": softmax gives one distribution over mutually exclusive classes; independent sigmoids do not.",
                 head + ": the softmax output did not give a usable distribution here.",
                 {"softmax_deviation": dev["softmax"], "sigmoid_deviation": dev["sigmoid"],
                  "softmax_accuracy": acc["softmax"], "sigmoid_accuracy": acc["sigmoid"]}, seed=SEED["softmax_out"])


# -- tables and figures -----------------------------------------------------------------------------
def _tables(report, runs, layers) -> None:
    report.section("Per-layer gradient norms")
    grow = [[a] + [float(np.median(runs[(a, "normal")][f"grad/{L}"][:, 0])) for L in layers] for a in ACTIVATIONS]
    report.table(["activation"] + [f"{L} (step 0)" for L in layers], grow,
                 caption="Median over seeds of each layer's gradient norm on the first batch; dense_0 is "
                         "the first hidden layer, the last column the output layer.")


def _figures(report, data, st, s) -> None:
    runs = data["runs"]
    steps = runs[("relu", "normal")]["steps"]
    target = s["accuracy target"]

    def small_multiples(key, tag, names, ylabel, log=False, ylim=None, hline=None, seed_markers=False):
        def draw(fig):
            ncol = 3
            nrow = math.ceil(len(names) / ncol)
            axes = fig.subplots(nrow, ncol, sharex=True, sharey=not log, squeeze=False).ravel()
            for i, a in enumerate(names):
                ax = axes[i]
                seed_lines(ax, steps, runs[(a, tag)][key], i, a, markers=0, ls="-", seed_markers=seed_markers)
                if log:
                    log_limits(ax, runs[(a, tag)][key], decades=4)
                if ylim:
                    ax.set_ylim(*ylim)
                if hline is not None:
                    ax.axhline(hline, color="grey", ls=":", lw=1)
                ax.set_title(a, fontsize=9)
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
            for ax in axes[len(names):]:
                ax.set_visible(False)
            for ax in axes[::ncol]:
                ax.set_ylabel(ylabel, fontsize=8)
            for ax in axes[-ncol:]:
                ax.set_xlabel("training step", fontsize=8)
        return draw

    n_seeds = s["seeds"]
    report.figure("loss.png", small_multiples("loss", "normal", ACTIVATIONS, "training loss (BCE, training set)", log=True),
                  f"Training loss per activation at lr {fmt(s['lr'])}, one line per seed ({n_seeds} seeds): rises "
                  "and spikes are visible seed by seed.", size=(10.0, 5.2))
    report.figure("accuracy.png", small_multiples("accuracy", "normal", ACTIVATIONS, "training accuracy",
                                                  ylim=(0.4, 1.01), hline=target),
                  f"Training accuracy per activation at lr {fmt(s['lr'])}, one line per seed; dotted: the "
                  f"{pct(target, 0)} target.", size=(10.0, 5.2))

    def relu_fallback(fig):
        r = runs[("relu", "normal")]
        a1, a2 = fig.subplots(2, 1, sharex=True)
        for j in range(r["accuracy"].shape[0]):
            a1.plot(steps, r["accuracy"][j], color=color(j), lw=1.2, label=f"seed {j}")
            a2.plot(steps, r["dead"][j], color=color(j), lw=1.2, marker="os^Dv"[j % 5], ms=3,
                    markevery=(j, max(1, len(steps) // 12)))
            b = int(st["relu"]["ibest"][j])
            a1.plot(steps[b], r["accuracy"][j, b], "k*", ms=8, label="best" if j == 0 else None)
            a2.plot(steps[b], r["dead"][j, b], "k*", ms=8)
        a1.set_ylabel("training accuracy")
        a2.set_ylabel(f"dead ReLU units (of {HIDDEN * s['width']})")
        a2.set_xlabel("training step")
        for a in (a1, a2):
            a.grid(alpha=0.3)
        a1.set_title(f"ReLU at lr {fmt(s['lr'])}: accuracy and dead units, seed by seed", fontsize=9)
        legend_outside(fig, a1)

    report.figure("relu_fallback.png", relu_fallback, "ReLU seed by seed: training accuracy (top) and dead units "
                                                      "(bottom); the star marks each seed's best accuracy.",
                  size=(8.0, 5.0))

    def grad(fig):
        ax = fig.add_subplot()
        for i, a in enumerate(ACTIVATIONS):
            g = np.median(runs[(a, "normal")]["grad/dense_0"], axis=0)
            ax.plot(steps, g, color=color(i), lw=1.3, ls=("-", "--", "-.", ":")[i % 4], label=a)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("gradient norm, first hidden layer (median of seeds)")
        ax.grid(alpha=0.3)
        legend_outside(fig, ax)

    report.figure("grad_first_layer.png", grad, "Gradient norm of the first hidden layer during training.",
                  size=(8.0, 4.0))

    def mean_out(fig):
        ax = fig.add_subplot()
        for i, a in enumerate(("relu", "leaky_relu", "elu", "tanh")):
            r = runs[(a, "normal")]
            m = np.stack([r[f"mean/dense_{k}"] for k in range(HIDDEN)]).mean(axis=0)   # (S, T)
            seed_lines(ax, steps, m, i, a, n_styles=4)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("training step")
        ax.set_ylabel("mean output of the hidden units (training set)")
        ax.grid(alpha=0.3)
        legend_outside(fig, ax, title="one line per seed")

    report.figure("mean_output.png", mean_out, "Mean output of the hidden units during training (ELU against ReLU, "
                                               "LeakyReLU and tanh).", size=(8.0, 4.0))
    hi_lr = fmt(s["high lr (dying ReLU run)"])
    report.figure("high_lr.png", small_multiples("accuracy", "high", HIGH, "training accuracy", ylim=(0.4, 1.01),
                                                 hline=target, seed_markers=True),
                  f"Training accuracy at lr {hi_lr}, one line per seed: none of the ReLU family learns at this rate "
                  "unless a line reaches the dotted target.", size=(10.0, 3.0))

    def dead(fig):
        axes = fig.subplots(1, 4, sharey=True)
        panels = [(("relu", "normal"), "dead", f"relu, lr {fmt(s['lr'])}")] + \
                 [((a, "high"), "dead" if a == "relu" else "stuck", f"{a}, lr {hi_lr}") for a in HIGH]
        for i, (ax, (key, what, title)) in enumerate(zip(axes, panels)):
            seed_lines(ax, steps, runs[key][what], i, title, markers=0, ls="-", seed_markers=True)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("training step", fontsize=8)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(f"units never positive (of {HIDDEN * s['width']})", fontsize=8)
        fig.suptitle("dead (ReLU) and stuck-negative (LeakyReLU, ELU) units, one line (and marker) per seed",
                     fontsize=9)

    report.figure("dead_units.png", dead, "Units that are never positive on the training set.", size=(10.0, 3.2))

    rg, cl = data["range"], data["classes"]

    def outputs(fig):
        a1, a2, a3 = fig.subplots(1, 3)
        gx = rg["grid_x"]
        a1.axvspan(rg["x"].min(), rg["x"].max(), color="grey", alpha=0.15, lw=0)
        a1.plot(gx, 0.9 * np.sin(np.pi * gx), color="grey", ls=":", lw=1.2, label="target 0.9 sin(pi x)")
        for i, a in enumerate(("tanh", "sigmoid", "linear")):
            a1.plot(gx, rg["outputs"][a]["grid"][0], color=color(i), ls=("-", "--", "-.")[i], lw=1.4,
                    label=f"{a} output")
        a1.axhline(1, color="grey", lw=0.6)
        a1.axhline(-1, color="grey", lw=0.6)
        a1.set_ylim(-2, 2)
        a1.set_xlabel("input x (shaded: training inputs)", fontsize=8)
        a1.set_ylabel("network output (seed 0)", fontsize=8)
        a1.set_title("targets in [-1, 1]", fontsize=9)
        a1.legend(fontsize=7, loc="lower left", frameon=False)
        for i, a in enumerate(("softmax", "sigmoid")):
            sums = np.sort(cl[a]["sums"].ravel())
            a2.plot(np.arange(sums.size), sums, color=color(i + 3), ls=("-", "--")[i], lw=1.6, label=f"{a} outputs")
        a2.axhline(1, color="grey", lw=0.6)
        a2.set_xlabel("test points (all seeds), sorted by the sum", fontsize=8)
        a2.set_ylabel("sum of the 3 outputs", fontsize=8)
        a2.set_title("3 classes", fontsize=9)
        a2.legend(fontsize=7, loc="upper left", frameon=False)
        labels = data["test_labels"]
        good = [(a, j) for a in ACTIVATIONS for j in range(s["seeds"]) if st[a]["test"][j] >= target]
        a3.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="calibrated")
        if good:
            p = np.concatenate([runs[(a, "normal")]["test_pred"][j] for a, j in good])
            yl = np.concatenate([labels for _ in good])
            idx = np.clip((p * 10).astype(int), 0, 9)
            used = [b for b in range(10) if (idx == b).any()]
            xs = [p[idx == b].mean() for b in used]
            ys = [yl[idx == b].mean() for b in used]
            a3.plot(xs, ys, "-", color=color(5), lw=1, label="sigmoid output, spiral test set (dot area: points)")
            a3.scatter(xs, ys, s=[4 + 200 * (idx == b).mean() for b in used], color=color(5), zorder=3)
        a3.set_xlabel("predicted P(class 1), binned", fontsize=8)
        a3.set_ylabel("share of class 1 in the bin", fontsize=8)
        a3.set_title("sigmoid output as a probability", fontsize=9)
        a3.legend(fontsize=7, loc="upper left", frameon=False)
        for a in (a1, a2, a3):
            a.grid(alpha=0.3)
            a.tick_params(labelsize=7)

    report.figure("output_layers.png", outputs, "Output layers (seed 000, question 4): tanh, sigmoid and linear "
                                                "outputs on targets in [-1, 1]; softmax against independent sigmoids "
                                                "on 3 classes; the sigmoid output's calibration.", size=(11.0, 3.6))
