"""Study ``activations`` (seed 000 questions 3-4, seed 004): ReLU, LeakyReLU, ELU, tanh, sigmoid
and linear on the same task; dead units, per-layer gradient norms, training speed; softmax.

Task: the Playground's two-spiral set (standardized), a 2-16-16-16-16-1 network (four hidden
layers, so vanishing gradients can show), Glorot-uniform weights for every activation (Keras'
default, so only the activation changes), sigmoid output, binary cross-entropy, SGD with
momentum. A second run of the ReLU-family nets at a large learning rate looks for dying ReLUs.
"""

from __future__ import annotations

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..diagnostics import compute_gradients, count_dead_units, layer_gradient_norms
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, best_time, first_above, steps_stats
from .report import choose, curves, fmt, names_list, pct, ratio_phrase, step_text
from .runconfig import DataRecipe

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "linear")
HIDDEN = 4
#: the seed's hand computation (seed 004, question 1.4): softmax(7, 1, 2.2) and the cross-entropy
SEED_SOFTMAX = {"z": (7.0, 1.0, 2.2), "p": (0.989, 0.0025, 0.0081), "ce": 0.011}


def _net(act, seeds, width):
    layers = [Dense(width, activation=act) for _ in range(HIDDEN)] + [Dense(1, activation="sigmoid")]
    return Sequential(layers, input_shape=(2,), init="glorot_uniform", seed=list(seeds), dtype="float64")


def _probe(x, y):
    bce = losses_mod.get("binary_cross_entropy")

    def fn(model):
        out = {f"grad/{k}": v for k, v in layer_gradient_norms(model).items()}  # this step's gradient
        pred = model.forward(x, False)
        out["loss"], out["accuracy"] = bce.value(pred, y), metrics_mod.get("accuracy")(pred, y, bce)
        dead = count_dead_units(model, x)
        stuck = count_dead_units(model, x, family=True)
        out["dead"] = sum(dead.values()) if dead else np.zeros(model.M)
        out["stuck"] = sum(stuck.values()) if stuck else np.zeros(model.M)
        return out

    return fn


def _step_time(act, x, y, width, batch):
    """Best-of-5 seconds for one forward + backward of one network on one batch."""
    model = _net(act, [0], width)
    xb, yb = x[:batch], y[:batch]
    return best_time(lambda: compute_gradients(model, xb, yb, "binary_cross_entropy", train=True), repeat=5, number=20)


def _softmax_example():
    z = np.array(SEED_SOFTMAX["z"])[None, None, :]
    p = acts.get("softmax")(z)[0, 0]
    ce = losses_mod.get("softmax_cross_entropy").value(z, np.array([0]))[0]
    return p, float(ce)


@register_study
class Activations(Study):
    name = "activations"
    seed_file = "000_16da2bc5b32683df.txt + 004_48be836c1907adbf.txt"
    title = "ReLU, LeakyReLU, ELU, tanh, sigmoid, linear: speed, dead units, gradient norms; softmax"
    summary = "seed 000 q3-4 / 004: six activations on one task; dead units, gradient norms per layer, speed; softmax"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "spiral (n=400, noise 0.05), standardized, half for testing",
                "network": f"2-{'-'.join(['16'] * HIDDEN)}-1, sigmoid output", "init": "glorot_uniform",
                "loss": "binary_cross_entropy", "optimizer": "SGD momentum 0.9", "lr": 0.05,
                "batch_size": 32, "steps": 1500 if quick else 8000, "high lr (dying ReLU run)": 0.5,
                "accuracy target": 0.9, "width": 16}

    def measure(self, s, recorder):
        recipe = DataRecipe("spiral", options={"n": 400, "noise": 0.05, "seed": 0}, validation_split=0.5,
                            split_seed=0, standardize=True)
        data = recipe.load()
        xtr, xte = data.x, data.x_val
        ytr, yte = data.y.astype(float)[:, None], data.y_val.astype(float)[:, None]
        runs = {}
        for act, lr, tag in [(a, s["lr"], "normal") for a in ACTIVATIONS] + \
                            [(a, s["high lr (dying ReLU run)"], "high") for a in ("relu", "leaky_relu", "elu")]:
            model = _net(act, range(s["seeds"]), s["width"])
            probe = Probe(_probe(xtr, ytr))
            hist = model.fit(data.x, data.y, loss="binary_cross_entropy", optimizer=SGD(lr=lr, momentum=0.9),
                             batch_size=s["batch_size"], steps=s["steps"], log_every=max(1, s["steps"] // 100),
                             metrics=[], callbacks=[probe, recorder.callback(recipe, f"{act}, {tag} lr")],
                             progress=False)
            run = {k: v.T for k, v in probe.values.items()}
            run["steps"] = np.array(probe.steps)
            run["status"] = np.array(hist.status)
            run["test_accuracy"] = np.atleast_1d(model.evaluate(xte, yte, "binary_cross_entropy")["accuracy"])
            runs[(act, tag)] = run
        times = {a: _step_time(a, xtr, ytr, s["width"], s["batch_size"]) for a in ACTIVATIONS}
        p, ce = _softmax_example()
        return {"runs": runs, "step_seconds": times, "softmax": p, "cross_entropy": ce}

    def analyze(self, data, s, report):
        runs, S, H, target = data["runs"], s["seeds"], s["steps"], s["accuracy target"]
        layers = [f"dense_{i}" for i in range(HIDDEN + 1)]
        rows, st = [], {}
        for a in ACTIVATIONS:
            r = runs[(a, "normal")]
            med, n = steps_stats([first_above(r["steps"], r["accuracy"][j], target) for j in range(S)])
            g0 = np.array([np.median(r[f"grad/{L}"][:, 0]) for L in layers])
            st[a] = {"reach": med, "n": n, "test": float(np.mean(r["test_accuracy"])),
                     "ratio0": float(g0[0] / g0[-1]) if g0[-1] > 0 else np.nan,
                     "dead": float(np.mean(r["dead"][:, -1])), "us": data["step_seconds"][a] * 1e6}
            rows.append([a, step_text(med, H), f"{n}/{S}", pct(st[a]["test"]), st[a]["ratio0"],
                         st[a]["dead"], st[a]["us"]])
            report.number(f"test_accuracy.{a}", st[a]["test"])
            report.number(f"reach.{a}", med)
            report.number(f"grad_ratio.{a}", st[a]["ratio0"])
            report.number(f"step_us.{a}", st[a]["us"])
        report.set_summary(["activation", f"median step to {pct(target, 0)} train acc", "seeds reached",
                            "test accuracy", "grad norm first/last layer (step 0)", "dead units at end (mean)",
                            "us per forward+backward"], rows)
        order = sorted(ACTIVATIONS, key=lambda a: (np.inf if st[a]["reach"] is None else st[a]["reach"],
                                                   -st[a]["test"]))
        best = order[0]
        never = [a for a in ACTIVATIONS if st[a]["reach"] is None]
        report.finding(
            f"Training speed (median step to {pct(target, 0)} training accuracy): "
            + names_list([f"{a} {step_text(st[a]['reach'], H)}" for a in order if st[a]["reach"] is not None])
            + (f"; never within {H:,} steps: {names_list(never)}" if never else "") + f". Fastest: {best}.")
        lin, top = st["linear"]["test"], max(st[a]["test"] for a in ACTIVATIONS)
        accs = [a + " " + pct(st[a]["test"]) for a in ACTIVATIONS]
        report.finding(
            f"Test accuracy: {names_list(accs)}; "
            + choose(top - lin > 0.1, f"the linear network stays {100 * (top - lin):.0f} points behind the best: "
                                      "stacked linear layers are one linear map, a straight boundary that cannot "
                                      "separate spirals.",
                     "the linear network is not far behind on this data."))
        sig, relu = st["sigmoid"]["ratio0"], st["relu"]["ratio0"]
        report.finding(
            f"Gradient norms at step 0, first hidden layer over output layer: sigmoid {fmt(sig)}, tanh "
            f"{fmt(st['tanh']['ratio0'])}, ReLU {fmt(relu)}, ELU {fmt(st['elu']['ratio0'])}; "
            + choose(sig < 0.5 * relu, f"sigmoid's first layer learns from a gradient "
                                       f"{ratio_phrase(relu, sig, 'smaller', 'larger', 'as large')} (relative to its "
                                       "output layer) than ReLU's: sigmoid' <= 0.25 shrinks the gradient at every layer "
                                       "(vanishing gradients).",
                     "sigmoid's first layer was not starved relative to ReLU's here."))
        hi = {a: runs[(a, "high")] for a in ("relu", "leaky_relu", "elu")}
        d_relu = float(np.mean(hi["relu"]["dead"][:, -1]))
        d_norm = st["relu"]["dead"]
        total = HIDDEN * s["width"]
        report.number("dead.relu.high_lr", d_relu)
        report.number("dead.relu.normal_lr", d_norm)
        stuck = {a: float(np.mean(hi[a]["stuck"][:, -1])) for a in ("leaky_relu", "elu")}
        peak = float(np.mean(hi["relu"]["dead"].max(axis=1)))
        fl = {a: float(np.mean(hi[a]["loss"][:, -1])) for a in hi}
        report.number("high_lr.final_loss.relu", fl["relu"])
        report.finding(
            f"Dead units (never positive on the training set): ReLU ended with {fmt(d_norm)} of {total} at lr "
            f"{fmt(s['lr'])} and {fmt(d_relu)} at lr {fmt(s['high lr (dying ReLU run)'])} (mean over seeds; peak "
            f"{fmt(peak)}"
            + choose(peak <= d_relu, ", so none came back)", ", so some came back as earlier layers changed)")
            + f"; at that lr LeakyReLU had {fmt(stuck['leaky_relu'])} and ELU {fmt(stuck['elu'])} units on their "
            "negative side, where they still pass a gradient. Final training loss at the high lr: "
            + names_list([f"{a} {fmt(fl[a])}" for a in fl])
            + choose(abs(fl["relu"] - np.log(2)) < 0.01,
                     f" — ReLU's {fmt(fl['relu'])} is the loss of a constant 50% guess (ln 2 = 0.693): its dead "
                     "units left nothing that could learn.", "."))
        t = {a: st[a]["us"] for a in ACTIVATIONS}
        report.finding(
            f"Cost per forward+backward step (one network, batch {s['batch_size']}): "
            + names_list([f"{a} {fmt(t[a])} us" for a in sorted(t, key=t.get)])
            + f"; ELU is {ratio_phrase(t['elu'], t['relu'], 'slower than', 'faster than', 'as fast as')} ReLU"
            + choose(t["elu"] > 1.05 * t["relu"], " (it computes an exponential).", "."))
        p, ce = data["softmax"], data["cross_entropy"]
        ref = SEED_SOFTMAX
        err = float(np.max(np.abs(p - np.array(ref["p"]))))
        report.number("softmax.p0", p[0])
        report.number("softmax.ce", ce)
        report.finding(
            f"Softmax of z = (7, 1, 2.2): ({pct(p[0], 2)}, {pct(p[1], 2)}, {pct(p[2], 2)}), predicted class A; "
            f"cross-entropy for label A {fmt(ce, 3)}; "
            + choose(err < 0.001 and abs(ce - ref["ce"]) < 0.001,
                     "this matches the seed's hand computation (98.9%, 0.25%, 0.81%, 0.011).",
                     f"this differs from the seed's hand computation (98.9%, 0.25%, 0.81%, 0.011) by up to {pct(err, 2)}."))
        report.section("Per-layer gradient norms")
        grow = [[a] + [float(np.median(runs[(a, "normal")][f"grad/{L}"][:, 0])) for L in layers] for a in ACTIVATIONS]
        report.table(["activation"] + [f"{L} (step 0)" for L in layers], grow,
                     caption="Median over seeds of each layer's gradient norm on the first batch; dense_0 is "
                             "the first hidden layer, the last column the output layer.")
        steps = runs[("relu", "normal")]["steps"]
        report.figure("loss.png", curves(steps, {a: runs[(a, "normal")]["loss"] for a in ACTIVATIONS},
                                         metric="training loss (BCE)", title="activations on the spiral set"),
                      "Training loss per activation.")
        report.figure("grad_first_layer.png", curves(
            steps, {a: runs[(a, "normal")]["grad/dense_0"] for a in ACTIVATIONS}, metric="gradient norm, first layer",
            title="first-layer gradient norm", logy=True), "Gradient norm of the first hidden layer during training.")
        report.figure("dead_units.png", curves(
            steps, {f"{a}, lr {fmt(s['high lr (dying ReLU run)'])}": hi[a]["stuck"] for a in hi}
            | {f"relu, lr {fmt(s['lr'])}": runs[("relu", "normal")]["dead"]},
            metric="units never positive", title="dead / stuck units", logy=False),
            "Units that are never positive on the training set.")


__all__ = ["Activations"]
