"""Study ``sparsity`` (seed 000, question 6): three ways to a sparse model, against accuracy.

1. L1 regularization (``fit(l1=...)``): the penalty pulls weights towards zero, but plain
   (sub)gradient steps rarely land exactly on it — so exact zeros and near-zeros are counted.
2. Magnitude pruning (:func:`glassnet.diagnostics.pruning.prune_magnitude`) of the unregularized network to a
   target sparsity, with and without fine-tuning the remaining weights
   (:func:`glassnet.diagnostics.pruning.fine_tune`, pruned weights held at zero).
3. A proximal optimizer (:class:`glassnet.optimizers.ProximalSGD`): the L1 step is a soft
   threshold, which sets small weights to exactly zero.

Task: scikit-learn's 8x8 digits (64 inputs, 10 classes), a 64-64-10 ReLU network, softmax
cross-entropy, SGD; every method trains for the same number of steps from the same seeds.
"""

from __future__ import annotations

import copy

import numpy as np

from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from ..diagnostics.pruning import fine_tune, prune_magnitude
from ..diagnostics.weights import near_zero_share, sparsity
from ..optimizers import ProximalSGD
from .base import Study, register_study
from .common import by_config, grid
from .report import choose, fmt, names_list, pct
from .runconfig import DataRecipe

NEAR_ZERO = 1e-3


def _net(seeds):
    return Sequential([Dense(64, activation="relu"), Dense(10)], input_shape=(64,), init="he_normal",
                      seed=list(seeds), dtype="float64")


def _acc(model, x, y):
    return np.atleast_1d(model.evaluate(x, y, "softmax_cross_entropy")["accuracy"])


def _fit(model, data, s, recorder, note, **kw):
    """Train on the recipe ``data[0]``'s arrays ``data[1]``, recorded."""
    recipe, train = data
    kw.setdefault("optimizer", SGD(lr=s["lr"]))
    return model.fit(train.x, train.y, loss="softmax_cross_entropy", batch_size=s["batch_size"], metrics=[],
                     callbacks=[recorder.callback(recipe, note)], progress=False, **kw)


@register_study
class Sparsity(Study):
    name = "sparsity"
    seed_file = "000_16da2bc5b32683df.txt"
    title = "three ways to a sparse model: L1, magnitude pruning (+ fine-tuning), a proximal optimizer"
    summary = "seed 000 q6: L1 vs magnitude pruning (+fine-tuning) vs proximal SGD; sparsity vs accuracy table"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "digits 8x8, 70% train / 30% test, stratified",
                "network": "64-64-10 ReLU, softmax cross-entropy", "optimizer": "SGD", "lr": 0.05,
                "batch_size": 32, "steps": 1500 if quick else 8000, "fine-tune steps": 300 if quick else 2000,
                "l1 rates": [1e-4, 1e-3, 3e-3], "prune levels": [0.5, 0.8, 0.9, 0.95],
                "near-zero tolerance": NEAR_ZERO}

    def measure(self, s, recorder):
        digits = {"dtype": "float64", "flat": True, "train_fraction": 0.7, "split_seed": 0}
        recipe = DataRecipe("digits", options={**digits, "part": "train"})
        train = recipe.load()
        test = DataRecipe("digits", options={**digits, "part": "test"}).load()
        xtr, ytr, xte, yte = train.x, train.y, test.x, test.y
        data = (recipe, train)
        S, rates, levels = s["seeds"], s["l1 rates"], s["prune levels"]
        base = _net(range(S))
        _fit(base, data, s, recorder, "baseline", steps=s["steps"])
        out = {"baseline": {"sparsity": sparsity(base), "near_zero": near_zero_share(base, NEAR_ZERO),
                            "accuracy": _acc(base, xte, yte)}}
        # 1. L1 in the loss, and the same nets with their near-zeros set to exactly zero
        l1v, seeds = grid(rates, S)
        l1 = _net(seeds)
        _fit(l1, data, s, recorder, "L1 in the loss", steps=s["steps"], l1=l1v)
        out["l1"] = {"sparsity": by_config(sparsity(l1), len(rates)),
                     "near_zero": by_config(near_zero_share(l1, NEAR_ZERO), len(rates)),
                     "accuracy": by_config(_acc(l1, xte, yte), len(rates))}
        for p in l1.param_list:
            if p.regularize:
                p.value[np.abs(p.value) <= NEAR_ZERO] = 0.0
        out["l1_thresholded"] = {"sparsity": by_config(sparsity(l1), len(rates)),
                                 "accuracy": by_config(_acc(l1, xte, yte), len(rates))}
        # 2. magnitude pruning of the baseline, then fine-tuning with the mask
        pr = {"sparsity": [], "accuracy": [], "tuned_sparsity": [], "tuned_accuracy": []}
        for level in levels:
            m = copy.deepcopy(base)
            masks = prune_magnitude(m, level)
            pr["sparsity"].append(sparsity(m))
            pr["accuracy"].append(_acc(m, xte, yte))
            fine_tune(m, xtr, ytr, masks, loss="softmax_cross_entropy", optimizer=SGD(lr=s["lr"]),
                      batch_size=s["batch_size"], steps=s["fine-tune steps"], metrics=[], progress=False,
                      callbacks=[recorder.callback(recipe, f"fine-tuning after pruning to {level:g}")])
            pr["tuned_sparsity"].append(sparsity(m))
            pr["tuned_accuracy"].append(_acc(m, xte, yte))
        out["pruning"] = {k: np.array(v) for k, v in pr.items()}
        # 3. proximal SGD: soft-thresholding gives exact zeros
        prox = _net(seeds)
        _fit(prox, data, s, recorder, "proximal SGD", steps=s["steps"], optimizer=ProximalSGD(lr=s["lr"], l1=l1v))
        out["proximal"] = {"sparsity": by_config(sparsity(prox), len(rates)),
                           "near_zero": by_config(near_zero_share(prox, NEAR_ZERO), len(rates)),
                           "accuracy": by_config(_acc(prox, xte, yte), len(rates))}
        return out

    def analyze(self, d, s, report):
        rates, levels = s["l1 rates"], s["prune levels"]
        m = lambda a: float(np.mean(a))  # noqa: E731 - mean over seeds
        rows = [["none (baseline)", "—", pct(m(d["baseline"]["sparsity"])), pct(m(d["baseline"]["near_zero"])),
                 pct(m(d["baseline"]["accuracy"]))]]
        points = {"baseline": [(m(d["baseline"]["sparsity"]), m(d["baseline"]["accuracy"]))]}
        for c, r in enumerate(rates):
            rows.append(["L1 in the loss", f"l1={fmt(r)}", pct(m(d["l1"]["sparsity"][c])),
                         pct(m(d["l1"]["near_zero"][c])), pct(m(d["l1"]["accuracy"][c]))])
            rows.append(["L1, then |w| <= 1e-3 set to 0", f"l1={fmt(r)}", pct(m(d["l1_thresholded"]["sparsity"][c])),
                         "—", pct(m(d["l1_thresholded"]["accuracy"][c]))])
            report.number(f"l1.sparsity.{r:g}", m(d["l1"]["sparsity"][c]))
            report.number(f"l1.near_zero.{r:g}", m(d["l1"]["near_zero"][c]))
        pr = d["pruning"]
        for i, lv in enumerate(levels):
            rows.append(["magnitude pruning", f"target {pct(lv, 0)}", pct(m(pr["sparsity"][i])), "—",
                         pct(m(pr["accuracy"][i]))])
            rows.append(["pruning + fine-tuning", f"target {pct(lv, 0)}", pct(m(pr["tuned_sparsity"][i])), "—",
                         pct(m(pr["tuned_accuracy"][i]))])
            report.number(f"prune.accuracy.{lv:g}", m(pr["accuracy"][i]))
            report.number(f"prune.tuned_accuracy.{lv:g}", m(pr["tuned_accuracy"][i]))
        for c, r in enumerate(rates):
            rows.append(["proximal SGD", f"l1={fmt(r)}", pct(m(d["proximal"]["sparsity"][c])),
                         pct(m(d["proximal"]["near_zero"][c])), pct(m(d["proximal"]["accuracy"][c]))])
            report.number(f"prox.sparsity.{r:g}", m(d["proximal"]["sparsity"][c]))
        report.set_summary(["method", "setting", "exact zeros", f"near zero (abs(w) <= {NEAR_ZERO:g})",
                            "test accuracy"], rows)
        points["L1 (thresholded)"] = [(m(d["l1_thresholded"]["sparsity"][c]), m(d["l1_thresholded"]["accuracy"][c]))
                                      for c in range(len(rates))]
        points["pruning"] = [(m(pr["sparsity"][i]), m(pr["accuracy"][i])) for i in range(len(levels))]
        points["pruning + fine-tuning"] = [(m(pr["tuned_sparsity"][i]), m(pr["tuned_accuracy"][i]))
                                           for i in range(len(levels))]
        points["proximal SGD"] = [(m(d["proximal"]["sparsity"][c]), m(d["proximal"]["accuracy"][c]))
                                  for c in range(len(rates))]
        top = len(rates) - 1
        ex, nz = m(d["l1"]["sparsity"][top]), m(d["l1"]["near_zero"][top])
        report.finding(
            f"L1 in the loss (l1 = {fmt(rates[top])}): {pct(ex, 2)} of the weights were exactly zero but {pct(nz)} "
            f"within {NEAR_ZERO:g} of it"
            + choose(ex < 0.01 and nz > 10 * max(ex, 1e-4),
                     " — gradient steps make weights hover around zero, not land on it; setting those to zero "
                     f"gave {pct(m(d['l1_thresholded']['sparsity'][top]))} sparsity at "
                     f"{pct(m(d['l1_thresholded']['accuracy'][top]))} accuracy.", "."))
        px = m(d["proximal"]["sparsity"][top])
        report.finding(
            f"Proximal SGD with the same l1 = {fmt(rates[top])} produced {pct(px)} exact zeros at "
            f"{pct(m(d['proximal']['accuracy'][top]))} test accuracy"
            + choose(px > 10 * max(ex, 1e-4), f", against {pct(ex, 2)} exact zeros with L1 in the loss: the "
                                               "soft-threshold step sets small weights to exactly 0.", "."))
        i90 = int(np.argmin(np.abs(np.array(levels) - 0.9)))
        a0, a1 = m(pr["accuracy"][i90]), m(pr["tuned_accuracy"][i90])
        report.finding(
            f"Magnitude pruning to {pct(levels[i90], 0)} (from {pct(m(d['baseline']['accuracy']))} unpruned): "
            f"{pct(a0)} test accuracy straight after pruning, {pct(a1)} after {s['fine-tune steps']:,} fine-tuning "
            f"steps ({100 * (a1 - a0):+.1f} points) with the sparsity held at {pct(m(pr['tuned_sparsity'][i90]))}.")
        best = []
        for name, pts in points.items():
            for sp, acc in pts:
                if sp >= 0.8:
                    best.append((acc, sp, name))
        if best:
            acc, sp, name = max(best)
            report.finding(f"At 80% sparsity or more, the most accurate model came from {name}: {pct(acc)} test "
                           f"accuracy at {pct(sp)} zeros (candidates: "
                           + names_list(sorted({n for _, _, n in best})) + ").")
        else:
            report.finding("No method reached 80% sparsity in this run.")

        def draw(fig):
            ax = fig.add_subplot()
            for name, pts in points.items():
                xs, ys = zip(*pts)
                ax.plot(xs, ys, "o-" if len(pts) > 1 else "k*", label=name, ms=6)
            ax.set_xlabel("share of weights exactly zero")
            ax.set_ylabel("test accuracy")
            ax.set_title("sparsity vs accuracy (mean over seeds)", fontsize="medium")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")

        report.figure("sparsity_vs_accuracy.png", draw, "Test accuracy against exact sparsity for each method.")
