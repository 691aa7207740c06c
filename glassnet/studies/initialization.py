"""Study ``initialization`` (seed 000, questions 1-2): equal weights vs He vs Glorot vs small
normal weights, with zero or random biases.

Question 1 asks whether all weights may start at one value, drawn with He initialization. In a
layer whose units start with identical incoming weights and biases, every unit computes the same
output and receives the same gradient, so they stay copies of each other forever: the layer
acts like a single unit. :func:`glassnet.diagnostics.duplicate_units` counts the copies during
training. Question 2 asks about zero biases; the study also measures what random biases do to
the equal-weight network.

Task: the Playground's circle set (standardized), a 2-8-8-1 network with ReLU hidden layers and
a sigmoid output, binary cross-entropy, SGD.
"""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..diagnostics import duplicate_units
from ..initializers import GlorotUniform, HeNormal, Initializer, Normal, Zeros
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, first_above, steps_stats
from .runconfig import DataRecipe
from .report import choose, count_of, curves, fmt, names_list, pct, ratio_phrase, step_text


class SameValue(Initializer):
    """Every entry of the tensor gets ONE value drawn from ``base`` (seed 000 question 1:
    "all the weights to the same value, selected randomly using He initialization")."""

    name = "same_value"

    def __init__(self, base: Initializer):
        self.base = base

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        value = self.base((1,), rng, dtype, fan_in, fan_out)[0]
        return np.full(shape, value, dtype=dtype)


WEIGHT_INITS = {
    "equal (one He draw)": lambda: SameValue(HeNormal()),
    "He normal": HeNormal,
    "Glorot uniform": GlorotUniform,
    "N(0, var 0.01)": lambda: Normal(variance=0.01),
}
BIAS_INITS = {"zero": Zeros, "N(0, var 0.01)": lambda: Normal(variance=0.01)}
HIDDEN = ("dense_0", "dense_1")


def _probe(x, y):
    bce = losses_mod.get("binary_cross_entropy")

    def fn(model):
        pred = model.forward(x, False)
        out = {"loss": bce.value(pred, y), "accuracy": metrics_mod.get("accuracy")(pred, y, bce)}
        groups = duplicate_units(model, atol=1e-10)
        for layer in HIDDEN:
            units = model.layers[HIDDEN.index(layer)].units
            # distinct functions = units minus the copies inside each group of identical units
            out[f"distinct/{layer}"] = np.array([units - sum(len(g) - 1 for g in gs) for gs in groups[layer]])
            W = model.layers[HIDDEN.index(layer)].W.value
            out[f"spread/{layer}"] = W.std(axis=-1).mean(axis=-1)  # how different the units' weights are
        return out

    return fn


@register_study
class Initialization(Study):
    name = "initialization"
    seed_file = "000_16da2bc5b32683df.txt"
    title = "equal weights vs He vs Glorot vs N(0, 0.01); zero vs random biases; symmetric neurons"
    summary = "seed 000 q1-2: equal-weight init keeps neurons identical; He/Glorot/N(0,0.01); zero vs random bias"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "circle (n=400, noise 0.05), standardized, half for testing",
                "network": "2-8-8-1, ReLU hidden, sigmoid output", "loss": "binary_cross_entropy",
                "optimizer": "SGD", "lr": 0.1, "batch_size": 16, "steps": 1500 if quick else 6000,
                "accuracy target": 0.9}

    def measure(self, s, recorder):
        recipe = DataRecipe("circle", options={"n": 400, "noise": 0.05, "seed": 0}, validation_split=0.5,
                            split_seed=0, standardize=True)
        data = recipe.load()
        xtr, xte = data.x, data.x_val
        ytr, yte = data.y.astype(float)[:, None], data.y_val.astype(float)[:, None]
        out = {}
        for wname, winit in WEIGHT_INITS.items():
            for bname, binit in BIAS_INITS.items():
                model = Sequential([Dense(8, activation="relu"), Dense(8, activation="relu"),
                                    Dense(1, activation="sigmoid")], input_shape=(2,), init=winit(),
                                   bias_init=binit(), seed=list(range(s["seeds"])), dtype="float64")
                probe = Probe(_probe(xtr, ytr))
                model.fit(data.x, data.y, loss="binary_cross_entropy", optimizer=SGD(lr=s["lr"]),
                          batch_size=s["batch_size"], steps=s["steps"], log_every=max(1, s["steps"] // 100),
                          metrics=[], callbacks=[probe, recorder.callback(recipe, f"{wname} weights, {bname} biases")],
                          progress=False)
                run = {k: v.T for k, v in probe.values.items()}  # (S, T)
                run["steps"] = np.array(probe.steps)
                run["test_accuracy"] = np.atleast_1d(model.evaluate(xte, yte, "binary_cross_entropy")["accuracy"])
                out[(wname, bname)] = run
        return {"runs": out}

    def analyze(self, data, s, report):
        runs, S, H = data["runs"], s["seeds"], s["steps"]
        target = s["accuracy target"]
        rows = []
        stats = {}
        for (w, b), r in runs.items():
            reach = [first_above(r["steps"], r["accuracy"][j], target) for j in range(S)]
            med, n = steps_stats(reach)
            d = {L: (r[f"distinct/{L}"][:, 0], r[f"distinct/{L}"][:, -1]) for L in HIDDEN}
            stats[(w, b)] = {"reach": med, "n": n, "distinct": d, "test": float(np.mean(r["test_accuracy"])),
                             "loss": float(np.mean(r["loss"][:, -1]))}
            rows.append([w, b] + [f"{_rng(d[L][0])} -> {_rng(d[L][1])}" for L in HIDDEN]
                        + [stats[(w, b)]["loss"], pct(stats[(w, b)]["test"]), step_text(med, H), f"{n}/{S}"])
            report.number(f"test_accuracy.{w}.{b}", stats[(w, b)]["test"])
            for L in HIDDEN:
                report.number(f"distinct_end.{w}.{b}.{L}", float(np.max(d[L][1])))
        report.set_summary(["weights", "biases", "distinct units dense_0 (start -> end)",
                            "distinct units dense_1", "final train loss", "test accuracy",
                            f"median step to {pct(target, 0)} train accuracy", "seeds reached"], rows)
        eq, he = stats[("equal (one He draw)", "zero")], stats[("He normal", "zero")]
        units = 8
        kept = all(np.all(eq["distinct"][L][1] == 1) for L in HIDDEN)
        report.finding(
            f"Equal weights, zero biases: each hidden layer had {_rng(eq['distinct']['dense_0'][0])} distinct unit(s) of "
            f"{units} at step 0 and {_rng(eq['distinct']['dense_0'][1])} (dense_0) / {_rng(eq['distinct']['dense_1'][1])} "
            f"(dense_1) after {H:,} steps in {count_of(S, S, 'seeds')}: "
            + choose(kept, "the units stayed exact copies, so each layer worked as a single unit; ",
                     "the symmetry did not fully survive (rounding or the data broke it); ")
            + f"test accuracy {pct(eq['test'])} against {pct(he['test'])} with He initialization.")
        eqb = stats[("equal (one He draw)", "N(0, var 0.01)")]
        rb = runs[("equal (one He draw)", "N(0, var 0.01)")]
        sp0, sp1 = float(np.mean(rb["spread/dense_0"][:, 0])), float(np.mean(rb["spread/dense_0"][:, -1]))
        report.number("spread_end.equal_random_bias", sp1)
        report.finding(
            f"Equal weights with random biases: the spread of dense_0's incoming weights across its units went from "
            f"{fmt(sp0)} to {fmt(sp1)} (mean std over units) — "
            + choose(sp1 > 1e-3 and sp1 > 10 * sp0, "different biases gave the units different gradients, so the "
                                                    "biases alone broke the weight symmetry; ",
                     "the weights stayed (nearly) identical despite the random biases; ")
            + f"test accuracy {pct(eqb['test'])}, against {pct(eq['test'])} with zero biases.")
        heb = stats[("He normal", "N(0, var 0.01)")]
        diff = heb["test"] - he["test"]
        report.finding(
            f"Zero vs random biases with He weights: test accuracy {pct(he['test'])} vs {pct(heb['test'])} "
            + choose(abs(diff) <= 0.02, "(within 2 points: zero biases are fine once the weights are random, "
                                        "as the seed answers).",
                     f"({abs(diff) * 100:.1f} points {'better' if diff > 0 else 'worse'} with random biases)."))
        small = stats[("N(0, var 0.01)", "zero")]
        glo = stats[("Glorot uniform", "zero")]
        reached = [f"{w} ({step_text(stats[(w, 'zero')]['reach'], H)})" for w in WEIGHT_INITS]
        report.finding(
            f"Speed to {pct(target, 0)} training accuracy (zero biases, median): {names_list(reached)}. "
            + (f"Small N(0, var 0.01) weights were {_vs(small['reach'], he['reach'])} He"
               if small["reach"] is not None and he["reach"] is not None else "")
            + (f"; Glorot was {_vs(glo['reach'], he['reach'])} He." if glo["reach"] is not None
               and he["reach"] is not None else "."))
        report.section("Distinct units during training")
        report.text("A unit is counted once per group of units with identical incoming weights and bias "
                    "(`glassnet.diagnostics.duplicate_units`, tolerance 1e-10).")
        steps = runs[("He normal", "zero")]["steps"]
        shown = [("equal (one He draw)", "zero"), ("equal (one He draw)", "N(0, var 0.01)"), ("He normal", "zero")]
        report.figure("distinct_units.png", curves(
            steps, {f"{w}, {b} bias": runs[(w, b)]["distinct/dense_0"] for w, b in shown},
            metric="distinct units in dense_0", title="symmetric neurons stay identical", logy=False),
            "Distinct units in the first hidden layer during training (every random-weight setup keeps all 8).")
        report.figure("weight_spread.png", curves(
            steps, {f"{w}, {b} bias": r["spread/dense_0"] for (w, b), r in runs.items()},
            metric="std of dense_0 weights across units", title="how different the units' weights are", logy=False),
            "Spread of the first layer's incoming weights across its units: zero means identical units.")
        report.figure("loss.png", curves(steps, {f"{w}, {b} bias": r["loss"] for (w, b), r in runs.items()},
                                         metric="training loss (BCE)", title="initialization"),
                      "Training loss (full training set) per initialization.")


def _vs(a, b) -> str:
    return ratio_phrase(a, b, "slower than", "faster than", "about as fast as")


def _rng(values) -> str:
    """'1' when all seeds agree, else 'min-max'."""
    values = np.asarray(values)
    lo, hi = int(values.min()), int(values.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"
