"""The report of study ``playground-exercises``, computed from its measurements.

Every finding is a :meth:`~glassnet.studies.report.Report.claim`: written only when its premise
holds on the numbers, its alternative otherwise. The stated margins:

* a learning rate is *too low* / *too high* when its mean test loss is at least ``WORSE`` (2x)
  the best rate's after the same number of steps, or (too high) when any seed diverged; the best
  rate is the one with the lowest mean test loss among those where no seed diverged. Jitter
  alone never makes a rate "too high";
* *noise* is the scatter of the log full-training-set loss around a trend (a cubic in the step,
  fitted by least squares over the last half of the run; :func:`trend_noise`), so the downward
  trend itself is not counted as noise; "noisier" means at least ``NOISIER`` (2x);
* batch sizes are compared at two equal budgets, the same number of epochs and the same number
  of updates; "lower test loss" means lower by at least ``BETTER`` (10%).
"""

from __future__ import annotations

import numpy as np

from . import playground_figures as figs
from .report import fmt, names_list, pct

WORSE = 2.0
NOISIER = 2.0
BETTER = 0.10


def trend_noise(steps, curves, part: float = 0.5, degree: int = 3) -> np.ndarray:
    """Scatter of ``log(loss)`` around its trend: the standard deviation of the residuals of a
    least-squares polynomial of ``degree`` in the step, fitted over the last ``part`` of the run.

    ``curves``: ``(..., T)`` on ``steps (T,)``; returns ``(...)``, NaN where the fitted part has
    non-finite or non-positive values (a diverged run) or too few points."""
    steps = np.asarray(steps, dtype=float)
    c = np.asarray(curves, dtype=float)
    flat = c.reshape(-1, c.shape[-1])
    i0 = int(len(steps) * (1 - part))
    t = steps[i0:] - steps[i0:].mean()
    t = t / (np.abs(t).max() or 1.0)
    out = np.full(len(flat), np.nan)
    for k, row in enumerate(flat):
        y = row[i0:]
        if len(y) > degree + 2 and np.all(np.isfinite(y)) and np.all(y > 0):
            ly = np.log(y)
            out[k] = np.std(ly - np.polyval(np.polyfit(t, ly, degree), t), ddof=degree + 1)
    return out.reshape(c.shape[:-1])


def analyze(data, s, report):
    summary = []
    _lr(data["lr"], s, report, summary)
    _batch(data["batch"], s, report, summary)
    _collapse(data["collapse"], s, report, summary)
    _regression(data["regression"], s, report, summary)
    _xor(data["xor"], s, report, summary)
    report.set_summary(["exercise", "setting", "measured"], summary)


# -- 1. learning rate ---------------------------------------------------------------------------
def lr_verdicts(d, s) -> dict:
    """Per rate: mean test loss (NaN where every seed diverged), accuracy, diverged seeds, noise
    around the trend, the fall of the training loss over the last quarter, and the verdict."""
    lrs = list(s["learning rates"])
    div = (np.asarray(d["status"]) == "diverged").sum(axis=1)
    tl = np.asarray(d["test_loss"], dtype=float)
    with np.errstate(all="ignore"):
        mean_tl = np.array([np.nanmean(np.where(np.asarray(d["status"][c]) == "diverged", np.nan, tl[c]))
                            if div[c] < tl.shape[1] else np.nan for c in range(len(lrs))])
        noise = np.nanmean(trend_noise(d["steps"], d["loss"]), axis=1)
        T = d["loss"].shape[2]
        w = max(1, T // 10)  # a tenth of the run at each end of the last quarter, against the noise
        q = (3 * T) // 4
        fall = np.nanmean(1 - d["loss"][:, :, T - w:].mean(axis=2) / d["loss"][:, :, max(q - w, 0):q].mean(axis=2),
                          axis=1)
    ok = np.isfinite(mean_tl) & (div == 0)
    best = int(np.argmin(np.where(ok, mean_tl, np.inf))) if ok.any() else None
    verdict = []
    for c in range(len(lrs)):
        if best is None:
            verdict.append("too high (diverged)" if div[c] else "—")
        elif c == best:
            verdict.append("best")
        elif c > best and (div[c] or not np.isfinite(mean_tl[c])):
            verdict.append("too high (diverged)")
        elif mean_tl[c] >= WORSE * mean_tl[best]:
            verdict.append("too low" if c < best else "too high")
        else:
            verdict.append("within 2x of the best")
    return {"lrs": lrs, "test_loss": mean_tl, "accuracy": np.mean(d["test_accuracy"], axis=1), "diverged": div,
            "noise": noise, "fall": fall, "best": best, "verdict": verdict}


def _lr(d, s, report, summary):
    v = lr_verdicts(d, s)
    lrs, S, best = v["lrs"], s["seeds"], v["best"]
    tl, acc, div, noise, fall = v["test_loss"], v["accuracy"], v["diverged"], v["noise"], v["fall"]
    report.section("1. Learning rate too low or too high")
    report.table(["lr", "test loss (mean)", "x best", "test accuracy (mean)", "diverged",
                  "noise around trend", "training loss fall over the last quarter", "verdict"],
                 [[fmt(l), float(tl[c]), "—" if best is None or not np.isfinite(tl[c]) else f"{tl[c] / tl[best]:.2g}x",
                   pct(acc[c]), f"{div[c]}/{S}", float(noise[c]), pct(fall[c]), v["verdict"][c]]
                  for c, l in enumerate(lrs)],
                 caption=f"All rates trained {s['steps']:,} steps from the same seeds. Too low / too high: mean test "
                         f"loss at least {WORSE:g}x the best rate's, or (too high) any seed diverged. Noise: standard "
                         "deviation of log(full-training-set loss) around a cubic trend over the last half of the run. Fall: "
                         "of the mean training loss over a tenth of the run, from just before the last quarter to the "
                         "end.")
    for c, l in enumerate(lrs):
        report.number(f"lr.test_loss.{l:g}", tl[c])
    if best is None:
        report.claim("lr.best", False, "", f"Every learning rate diverged on at least one seed within {s['steps']:,} "
                     "steps; no rate can be called the best.", {"diverged": int(div.sum())})
        summary.append(["learning rate", "—", "every rate diverged on some seed"])
        return
    b = f"lr {fmt(lrs[best])} (test loss {fmt(tl[best])}, {pct(acc[best])} accuracy)"
    head = f"Learning rate (circle, 2-4-2-1 tanh, {s['steps']:,} steps, equal for every rate): the best was {b}. "

    def describe(c, with_fall=False):
        if div[c]:
            return f"lr {fmt(lrs[c])} ({div[c]} of {S} seeds diverged)"
        fell = f", training loss down {pct(fall[c])} over the last quarter of the run" if with_fall else ""
        return f"lr {fmt(lrs[c])} (test loss {fmt(tl[c])}, {tl[c] / tl[best]:.2g}x the best{fell})"

    low = [c for c in range(best) if v["verdict"][c] == "too low"]
    report.claim(
        "lr.too_low", bool(low),
        head + f"Too low (at least {WORSE:g}x the best test loss after the same steps): "
        + "; ".join(describe(c, True) for c in low) + ".",
        head + f"No smaller rate was too low: every rate below lr {fmt(lrs[best])} ended within {WORSE:g}x of its test "
        "loss (" + names_list([describe(c) for c in range(best)]) + ").",
        {"best_lr": lrs[best], "best_test_loss": tl[best], "n_low": len(low)},
        seed="a too-low learning rate needs more epochs to reach the same performance")
    high = [c for c in range(best + 1, len(lrs)) if v["verdict"][c].startswith("too high")]
    near = [c for c in range(best + 1, len(lrs)) if c not in high]
    report.claim(
        "lr.too_high", bool(high),
        f"Too high (any seed diverged, or at least {WORSE:g}x the best test loss after {s['steps']:,} steps): "
        + names_list([describe(c) for c in high])
        + ("; " + names_list([describe(c) for c in near]) + " stayed within the margin, so not too high" if near else "")
        + ".",
        f"No larger rate was too high: none diverged and none ended at {WORSE:g}x the best test loss ("
        + (names_list([describe(c) for c in near]) or "no larger rate was tried") + ").",
        {"n_high": len(high), **{f"ratio.{lrs[c]:g}": tl[c] / tl[best] for c in near}},
        seed="a too-high learning rate might not converge")
    calm = [c for c in range(best + 1, len(lrs)) if div[c] == 0 and np.isfinite(noise[c])]
    top = calm[-1] if calm else None
    noisy = top is not None and noise[top] >= NOISIER * noise[best]
    report.claim(
        "lr.noise", noisy,
        f"At high rates the training loss is noisier: around its trend it scattered by {fmt(noise[top])} (log units) at "
        f"lr {fmt(lrs[top])}, {noise[top] / noise[best]:.2g}x the {fmt(noise[best])} at lr {fmt(lrs[best])}."
        if noisy else "",
        ("No larger rate that trained on every seed was tried." if top is None else
         f"The training loss was not clearly noisier at high rates: around its trend it scattered by "
         f"{fmt(noise[top])} (log units) at lr {fmt(lrs[top])} against {fmt(noise[best])} at lr {fmt(lrs[best])} "
         f"(less than {NOISIER:g}x)."),
        {"best": noise[best], "top": None if top is None else noise[top]},
        seed="a too-high learning rate is more sensitive to the noise of the last inputs")
    report.figure("lr_test_loss.png", figs.lr_test_loss(v, d, S, WORSE),
                  f"Test loss after {s['steps']:,} steps against the learning rate: a dot per seed, the line through "
                  f"the means, the dashed line at {WORSE:g}x the best; a cross at the top marks a diverged seed.")
    report.figure("lr_curves.png", figs.lr_curves(d["steps"], d["loss"], lrs, best),
                  "Full-training-set loss per learning rate, one panel each (thin: seeds; grey dashes: the best "
                  "rate's mean, repeated in every panel).", size=(7.6, 6.0))
    summary.append(["learning rate", f"best lr {fmt(lrs[best])}",
                    f"test loss {fmt(tl[best])}; too low: {len(low)}, too high: {len(high)} of {len(lrs)} rates"])


# -- 2. batch size --------------------------------------------------------------------------------
def batch_numbers(d) -> dict:
    """Per budget (``epochs``, ``updates``) and batch size: mean test loss, accuracy, final
    training loss, noise around the trend (mean over seeds), updates and epochs."""
    out = {}
    for budget, runs in d.items():
        out[budget] = {}
        for b, r in runs.items():
            noise = trend_noise(r["steps"], r["loss"])
            out[budget][b] = {"test_loss": float(np.mean(r["test_loss"])), "accuracy": float(np.mean(r["test_accuracy"])),
                              "train_loss": float(np.mean(r["loss"][:, -1])), "noise": float(np.nanmean(noise)),
                              "noise_seeds": noise, "updates": int(r["updates"]), "epochs": float(r["epochs"])}
    return out


def _batch(d, s, report, summary):
    n = batch_numbers(d)
    bs = list(d["epochs"])
    small, large = bs[0], bs[-1]
    report.section("2. Batch size, at equal epochs and at equal updates")
    rows = []
    for budget, label in (("epochs", f"{s['batch epochs']} epochs"), ("updates", f"{s['batch updates']:,} updates")):
        for b in bs:
            r = n[budget][b]
            rows.append([label, b, r["updates"], f"{r['epochs']:.3g}", r["train_loss"], r["test_loss"], pct(r["accuracy"]),
                         r["noise"]])
            report.number(f"batch.{budget}.test_loss.{b}", r["test_loss"])
            report.number(f"batch.{budget}.noise.{b}", r["noise"])
    report.table(["budget", "batch size", "updates", "epochs", "training loss (full set, end)", "test loss (mean)",
                  "test accuracy", "noise around trend"], rows,
                 caption=f"lr {fmt(s['batch lr'])} for every batch size. Noise: standard deviation of log(full-training-"
                         "set loss) around a cubic trend fitted over the last half of each run.")
    E, U = n["epochs"], n["updates"]
    most = max(bs, key=lambda b: E[b]["updates"])
    lowest = min(bs, key=lambda b: E[b]["test_loss"])
    losses = lambda r: names_list([f"batch {b} {fmt(r[b]['test_loss'])}" for b in bs])  # noqa: E731
    report.claim(
        "batch.epochs", lowest == most,
        f"Batch size at equal epochs ({s['batch epochs']}): batch {most} made the most updates "
        f"({E[most]['updates']:,} against {E[large]['updates']:,} for batch {large}) and reached the lowest test loss "
        f"({losses(E)}): per epoch, small batches train further.",
        f"Batch size at equal epochs ({s['batch epochs']}): batch {most} made the most updates ({E[most]['updates']:,}) "
        f"but batch {lowest} reached the lowest test loss ({losses(E)}).",
        {f"test_loss.{b}": E[b]["test_loss"] for b in bs})
    better = U[large]["test_loss"] <= (1 - BETTER) * U[small]["test_loss"]
    report.claim(
        "batch.updates", better,
        f"At equal updates ({s['batch updates']:,} each, so batch {large} saw {large // small}x the examples of batch "
        f"{small}) the larger batch generalized better: test loss {losses(U)}.",
        f"At equal updates ({s['batch updates']:,} each) batch {large} did not reach a test loss {pct(BETTER, 0)} below "
        f"batch {small}'s: {losses(U)}.",
        {f"test_loss.{b}": U[b]["test_loss"] for b in bs},
        seed="increasing the batch size can improve generalization")
    noise = [U[b]["noise"] for b in bs]
    falls = all(a > b for a, b in zip(noise, noise[1:])) and noise[-1] * NOISIER <= noise[0]
    per = lambda r: names_list([f"{fmt(r[b]['noise'])} (batch {b})" for b in bs])  # noqa: E731
    report.claim(
        "batch.noise", falls,
        f"Noise at equal updates: around its fitted trend the training loss scattered by {per(U)} in log units — "
        f"larger batches average out the noise of single examples ({noise[0] / noise[-1]:.2g}x less at batch {large}); "
        f"at equal epochs: {per(E)}.",
        f"Noise at equal updates: around its fitted trend the training loss scattered by {per(U)} in log units — it did "
        f"not fall with the batch size by {NOISIER:g}x; at equal epochs: {per(E)}.",
        {f"updates.{b}": U[b]["noise"] for b in bs},
        seed="larger batches attenuate the sensitivity to the noise of the last inputs")
    report.figure("batch_size.png", figs.batch_size(d, n, s),
                  "Full-training-set loss by batch size at equal epochs (top, against epochs) and at equal updates "
                  "(bottom, against updates), one panel per batch size; right: the noise around the fitted trend per "
                  "seed (dots) and its mean (bars) under each budget.", size=(10.0, 5.2))
    summary.append(["batch size", names_list([str(b) for b in bs]),
                    f"equal epochs: {losses(E)}; equal updates: {losses(U)} (test loss)"])


# -- 3. linear collapse ---------------------------------------------------------------------------
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
                 caption="Weight shapes: " + ", ".join(str(sh) for sh in d["layer_shapes"])
                 + " (glassnet computes x W + b, so W1 is 2x3 where the seed writes its transpose, 3x2).")
    report.claim(
        "collapse.one_matrix", gap < 1e-9,
        f"Linear 2-3-2-1 network on the plane set: W = W1 W2 W3 and b = b1 W2 W3 + b2 W3 + b3 give one affine map "
        f"x W + b whose outputs differ from the network's by at most {fmt(gap)} (rounding only).",
        f"Linear 2-3-2-1 network on the plane set: the collapsed map x W + b differs from the network's outputs by up "
        f"to {fmt(gap)}, more than rounding — the collapse did not reproduce the network.",
        {"gap": gap}, seed="the network is linear, Y = W3 W2 W1 X, leaving out the biases, which collapse into b as well")
    report.claim(
        "collapse.least_squares", diff < 0.05,
        f"The collapsed W is within {fmt(diff)} of the least-squares solution {tuple(round(float(v), 4) for v in ls)} "
        f"on every seed: the three layers learned plain linear regression (test R^2 {fmt(r2)}).",
        f"The collapsed W is up to {fmt(diff)} from the least-squares solution {tuple(round(float(v), 4) for v in ls)}: "
        f"after {s['steps']:,} steps it has not converged to linear regression (test R^2 {fmt(r2)}).",
        {"diff": diff, "r2": r2})
    report.figure("linear_collapse.png", figs.linear_collapse(d),
                  "Left: the network's output against x W + b on the test points (every seed); right: each seed's "
                  "largest distance from the least-squares weights (log scale; dashed: the 0.05 of the claim).",
                  size=(8.0, 3.6))
    summary.append(["linear collapse", "2-3-2-1, identity activations", f"max |net - (xW+b)| = {fmt(gap)}"])


# -- 4. regression ----------------------------------------------------------------------------
def _regression(d, s, report, summary):
    acts = [a for a in ("linear", "tanh", "relu") if a in d]
    report.section("4. Regression with and without a non-linearity")
    rows = [[a, float(np.mean(d[a]["test_mse"])), float(np.mean(d[a]["r2"]))] for a in acts]
    report.table(["hidden activation (2-8-8-1)", "test MSE (mean)", "test R^2 (mean)"], rows)
    r2 = {a: float(np.mean(d[a]["r2"])) for a in acts}
    for a, v in r2.items():
        report.number(f"regression.r2.{a}", v)
    best = max((a for a in acts if a != "linear"), key=r2.get)
    premise = r2["linear"] < 0.2 and r2[best] >= r2["linear"] + 0.3
    report.claim(
        "regression.nonlinear", premise,
        f"Regression on the multi-gaussian set (2-8-8-1, {s['steps']:,} steps): test R^2 "
        + names_list([f"{a} {fmt(v)}" for a, v in r2.items()])
        + f" — without a non-linearity the network is one linear map and explains almost none of the bumps; with {best} "
          f"it explains {pct(r2[best], 0)} of the variance.",
        "Regression on the multi-gaussian set (2-8-8-1): test R^2 " + names_list([f"{a} {fmt(v)}" for a, v in r2.items()])
        + " — the non-linear networks were not clearly better than the linear one (the claim needs linear R^2 < 0.2 "
          "and a non-linear one at least 0.3 higher).",
        {f"r2.{a}": v for a, v in r2.items()},
        seed="a linear network cannot fit this non-linear data and a non-linear activation can")
    report.figure("regression.png", figs.regression(d, acts, r2),
                  "Test points coloured by the target and by each network's prediction (seed 0); R^2 is the mean over "
                  "seeds.", size=(10.0, 3.2))
    summary.append(["regression", "linear vs tanh vs relu", names_list([f"{a} R^2 {fmt(v)}" for a, v in r2.items()])])


# -- 5. XOR -------------------------------------------------------------------------------------
def _xor(d, s, report, summary):
    keys = [k for k in d if isinstance(d[k], dict)]
    report.section("5. XOR and the X1X2 feature")
    acc = {k: float(np.mean(d[k]["test_accuracy"])) for k in keys}
    report.table(["inputs and network", "parameters", "test accuracy (mean)", "test loss (mean)"],
                 [[k, d[k]["params"], pct(acc[k]), float(np.mean(d[k]["test_loss"]))] for k in keys])
    for k, v in acc.items():
        report.number(f"xor.accuracy.{k}", v)
    plain, prod, hidden = keys
    report.claim(
        "xor.plain", acc[plain] < 0.65,
        f"XOR with x1, x2 and no hidden layer: {pct(acc[plain])} test accuracy, chance level — no straight line "
        "separates the quadrants.",
        f"XOR with x1, x2 and no hidden layer reached {pct(acc[plain])} test accuracy, above the 65% this claim takes "
        "for chance level.",
        {"accuracy": acc[plain]})
    report.claim(
        "xor.product", acc[prod] > 0.95,
        f"The single feature x1x2 with no hidden layer reached {pct(acc[prod])} with {d[prod]['params']} parameters: "
        "its sign is the class.",
        f"The single feature x1x2 with no hidden layer reached only {pct(acc[prod])} ({d[prod]['params']} parameters).",
        {"accuracy": acc[prod]},
        seed="the X1X2 feature matches this problem perfectly, so no neural network is needed")
    report.claim(
        "xor.hidden", acc[hidden] > 0.9,
        f"A hidden layer of 4 tanh units learns XOR from x1, x2 too ({pct(acc[hidden])}), with "
        f"{d[hidden]['params']} parameters where x1x2 needed {d[prod]['params']}: with the right feature no hidden "
        "layer is needed.",
        f"A hidden layer of 4 tanh units on x1, x2 reached only {pct(acc[hidden])} ({d[hidden]['params']} parameters) "
        f"in {s['steps']:,} steps.",
        {"accuracy": acc[hidden]})
    report.figure("xor.png", figs.xor(d, keys, acc),
                  "Predicted probability of class 1 over the plane (seed 0) with the test points; left to right: "
                  "x1, x2 without hidden layer, x1x2 alone, x1, x2 with 4 tanh units.", size=(10.0, 4.0))
    summary.append(["XOR", "x1,x2 / x1x2 / hidden layer",
                    f"{pct(acc[plain])} / {pct(acc[prod])} / {pct(acc[hidden])} test accuracy"])


__all__ = ["analyze", "batch_numbers", "lr_verdicts", "trend_noise"]
