"""The report of study ``playground-exercises``, computed from its measurements."""

from __future__ import annotations

import numpy as np

from .report import choose, curves, fmt, names_list, pct, ratio_phrase


def analyze(data, s, report):
    summary = []
    _lr(data["lr"], s, report, summary)
    _batch(data["batch"], s, report, summary)
    _collapse(data["collapse"], s, report, summary)
    _regression(data["regression"], s, report, summary)
    _xor(data["xor"], s, report, summary)
    report.set_summary(["exercise", "setting", "measured"], summary)


def _lr(d, s, report, summary):
    lrs, S = s["learning rates"], s["seeds"]
    tl = np.nanmean(np.where(d["status"] == "diverged", np.nan, d["test_loss"]), axis=1)
    acc = np.mean(d["test_accuracy"], axis=1)
    div = (d["status"] == "diverged").sum(axis=1)
    tail = d["loss"][:, :, -max(3, d["loss"].shape[2] // 4):]
    with np.errstate(all="ignore"):
        jitter = np.nanmean(np.nanstd(tail, axis=2) / np.nanmean(tail, axis=2), axis=1)
    report.section("1. Learning rate too low or too high")
    report.table(["lr", "test loss (mean)", "test accuracy (mean)", "training-loss jitter, last quarter", "diverged"],
                 [[fmt(l), float(tl[c]), pct(acc[c]), float(jitter[c]), f"{div[c]}/{S}"] for c, l in enumerate(lrs)],
                 caption="Jitter: standard deviation over mean of the full-training-set loss over the last quarter "
                         "of the run.")
    ok = np.isfinite(tl)
    best = int(np.nanargmin(np.where(ok, tl, np.inf)))
    low = [c for c in range(best) if tl[c] > 2 * tl[best]]
    high = [c for c in range(best + 1, len(lrs)) if div[c] > 0 or not ok[c] or tl[c] > 2 * tl[best]
            or jitter[c] > 2 * max(jitter[best], 1e-3)]
    for c, l in enumerate(lrs):
        report.number(f"lr.test_loss.{l:g}", tl[c])
    report.finding(
        f"Learning rate (circle, 2-4-2-1 tanh, {s['steps']:,} steps): lowest test loss {fmt(float(tl[best]))} at "
        f"lr {fmt(lrs[best])} ({pct(acc[best])} accuracy). Too low: "
        + (names_list([f"lr {fmt(lrs[c])} (test loss {fmt(float(tl[c]))}, accuracy {pct(acc[c])})" for c in low])
           + " — still far from the best after the same number of steps" if low
           else "none of the smaller rates was twice as bad")
        + ". Too high (diverged, or twice the best test loss, or twice its jitter): "
        + (names_list([f"lr {fmt(lrs[c])} (" + (f"{div[c]} of {S} diverged" if div[c] else
                                                f"test loss {fmt(float(tl[c]))}, jitter {fmt(float(jitter[c]))}") + ")"
                       for c in high]) if high else "none of the larger rates diverged, doubled the loss or the jitter")
        + ".")
    report.figure("lr_loss.png", curves(d["steps"], {f"lr={fmt(l)}": d["loss"][c] for c, l in enumerate(lrs)},
                                        metric="training loss (BCE, full set)", title="learning rate"),
                  "Training loss per learning rate.")
    summary.append(["learning rate", f"best lr {fmt(lrs[best])}",
                    f"test loss {fmt(float(tl[best]))}; too low: {len(low)}, too high: {len(high)} of {len(lrs)} rates"])


def _batch(d, s, report, summary):
    report.section("2. Batch size")
    rows, jit = [], {}
    for b, r in d.items():
        el = r["epoch_loss"]
        half = el[:, el.shape[1] // 2:]
        # epoch-to-epoch wobble of the full-set loss in the second half of training
        jit[b] = float(np.mean(np.abs(np.diff(np.log(half), axis=1))))
        rows.append([b, r["updates"], float(np.mean(r["test_loss"])), pct(float(np.mean(r["test_accuracy"]))),
                     jit[b], r["seconds"]])
        report.number(f"batch.test_loss.{b}", float(np.mean(r["test_loss"])))
        report.number(f"batch.wobble.{b}", jit[b])
    report.table(["batch size", "updates", "test loss (mean)", "test accuracy", "epoch-to-epoch |change| of log loss",
                  "training seconds"], rows)
    bs = list(d)
    small, large = bs[0], bs[-1]
    tl = {b: float(np.mean(d[b]["test_loss"])) for b in bs}
    report.finding(
        f"Batch size ({s['batch epochs']} epochs at lr {fmt(s['batch lr'])}): test loss "
        + names_list([f"batch {b}: {fmt(tl[b])}" for b in bs])
        + f"; the training loss wobbled from epoch to epoch by {fmt(jit[small])} (batch {small}) vs {fmt(jit[large])} "
          f"(batch {large}) in log units — "
        + choose(jit[large] < jit[small], "larger batches average out the noise of single examples, as the seed says",
                 "larger batches did not make the loss smoother here")
        + f"; but batch {small} made {ratio_phrase(d[small]['updates'], d[large]['updates'], 'more', 'fewer', 'as many')} "
          f"updates in the same epochs" + choose(tl[small] < tl[large], " and reached the lower test loss.",
                                                 ", yet did not reach a lower test loss."))
    summary.append(["batch size", names_list([str(b) for b in bs]), names_list([f"{b}: {fmt(tl[b])}" for b in bs])
                    + " test loss"])


def _collapse(d, s, report, summary):
    report.section("3. The 2-3-2-1 linear network is one matrix")
    gap = float(np.max(d["collapse_gap"]))
    W, ls = d["W"], d["lstsq_W"]
    diff = float(np.max(np.abs(W - ls)))
    r2 = float(np.mean(d["r2"]))
    report.number("collapse.gap", gap)
    report.number("collapse.lstsq_diff", diff)
    report.table(["seed", "collapsed W", "collapsed b", "test R^2"],
                 [[j, f"({fmt(float(W[j, 0]))}, {fmt(float(W[j, 1]))})", float(d["b"][j]), float(d["r2"][j])]
                  for j in range(len(W))] + [["least squares", f"({fmt(float(ls[0]))}, {fmt(float(ls[1]))})",
                                              float(d["lstsq_b"]), "—"]],
                 caption="Weight shapes: " + ", ".join(str(sh) for sh in d["layer_shapes"]))
    report.finding(
        f"Linear 2-3-2-1 network on the plane set: W3 W2 W1 collapses to one 2x1 matrix whose outputs differ from "
        f"the network's by at most {fmt(gap)} "
        + choose(gap < 1e-9, "(rounding only)", "(more than rounding!)")
        + f"; it is within {fmt(diff)} of the least-squares solution {tuple(round(float(v), 4) for v in ls)}, "
        + choose(diff < 0.05, "so the three layers learned plain linear regression",
                 "so it has not yet converged to linear regression")
        + f" (test R^2 {fmt(r2)}).")
    summary.append(["linear collapse", "2-3-2-1, identity activations", f"max |net - xW+b| = {fmt(gap)}"])


def _regression(d, s, report, summary):
    report.section("4. Regression with and without a non-linearity")
    rows = [[a, float(np.mean(r["test_mse"])), float(np.mean(r["r2"]))] for a, r in d.items()]
    report.table(["hidden activation (2-8-8-1)", "test MSE (mean)", "test R^2 (mean)"], rows)
    r2 = {a: float(np.mean(r["r2"])) for a, r in d.items()}
    for a, v in r2.items():
        report.number(f"regression.r2.{a}", v)
    best = max(r2, key=r2.get)
    report.finding(
        "Regression on the multi-gaussian set (2-8-8-1): test R^2 " + names_list([f"{a} {fmt(v)}" for a, v in r2.items()])
        + choose(r2["linear"] < r2[best] - 0.2,
                 f" — without a non-linearity the network is a linear model and cannot fit the bumps; with {best} it can.",
                 " — the non-linear networks were not clearly better here."))
    summary.append(["regression", "linear vs tanh vs relu", names_list([f"{a} R^2 {fmt(v)}" for a, v in r2.items()])])


def _xor(d, s, report, summary):
    report.section("5. XOR and the X1X2 feature")
    acc = {k: float(np.mean(r["test_accuracy"])) for k, r in d.items()}
    report.table(["inputs and network", "parameters", "test accuracy (mean)", "test loss (mean)"],
                 [[k, r["params"], pct(acc[k]), float(np.mean(r["test_loss"]))] for k, r in d.items()])
    keys = list(d)
    for k, v in acc.items():
        report.number(f"xor.accuracy.{k}", v)
    plain, prod, hidden = (acc[k] for k in keys)
    report.finding(
        f"XOR: with x1, x2 and no hidden layer the test accuracy was {pct(plain)}"
        + choose(plain < 0.65, " (chance level: no straight line separates the quadrants)", "")
        + f"; the single feature x1x2 with no hidden layer reached {pct(prod)} with {d[keys[1]]['params']} parameters"
        + choose(prod > 0.95, " — the feature matches the problem, so no hidden layer is needed, as the seed notes", "")
        + f"; a hidden layer of 4 tanh units on x1, x2 reached {pct(hidden)} with {d[keys[2]]['params']} parameters.")
    summary.append(["XOR", "x1,x2 / x1x2 / hidden layer", f"{pct(plain)} / {pct(prod)} / {pct(hidden)} test accuracy"])


__all__ = ["analyze"]
