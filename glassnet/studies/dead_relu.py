"""Study ``dead-relu`` (seed 004, question 2.3): a ReLU that only sees negative inputs never learns.

The seed's network: ``h1 = ReLU(w1 x)``, ``h2 = ReLU(w2 h1)``, no biases, only positive x. With
w1 < 0 every pre-activation ``w1 x`` is negative, so h1 = 0, the prediction is 0 for every
example, and dL/dw1 = dL/dh2 * dh2/dh1 * ReLU'(w1 x) * x = 0 (and dL/dw2 = dL/dh2 * ReLU'(.) * h1
= 0): no gradient-based method moves either weight. The seed adds that with w2 < 0 the second
ReLU is dead whatever the input.

Four networks train side by side on the model axis (initial weights set by hand):
dead first unit (w1 = -1, w2 = 1), dead second unit (w1 = 1, w2 = -1), a healthy one
(w1 = 1, w2 = 1), and — as a separate ensemble, since its activation differs — the same dead
start with LeakyReLU (alpha 0.01), whose negative side still passes a gradient.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import compute_gradients, count_dead_units, gradcheck
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import final_values
from .report import choose, count_of, curves, fmt, names_list
from .runconfig import DataRecipe

CASES = [("dead first ReLU (w1=-1, w2=1)", "relu", -1.0, 1.0),
         ("dead second ReLU (w1=1, w2=-1)", "relu", 1.0, -1.0),
         ("healthy (w1=1, w2=1)", "relu", 1.0, 1.0),
         ("LeakyReLU, w1=-1, w2=1", "leaky_relu", -1.0, 1.0)]


def _net(activation: str, w1s, w2s) -> Sequential:
    model = Sequential([Dense(1, activation=activation, use_bias=False),
                        Dense(1, activation=activation, use_bias=False)],
                       input_shape=(1,), seed=list(range(len(w1s))), dtype="float64")
    model.layers[0].W.value[:, 0, 0] = w1s
    model.layers[1].W.value[:, 0, 0] = w2s
    return model


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=(n, 1))  # only positive inputs, as in the seed
    return x, 2.0 * x                       # a target the healthy network can fit (w1 * w2 = 2)


@register_study
class DeadReLU(Study):
    name = "dead-relu"
    seed_file = "004_48be836c1907adbf.txt"
    title = "a ReLU network that predicts 0 for every example and never learns"
    summary = "seed 004: two-ReLU net with w1 < 0 predicts 0, gets exactly zero gradient, never learns"
    full_seeds = 1
    quick_seeds = 1

    def settings(self, quick, seeds):
        return {"seeds": seeds, "samples": 32, "steps": 300 if quick else 2000, "lr": 0.05,
                "loss": "half_sse", "x range": "U(0.5, 2)", "target": "y = 2x",
                "w1 grid": [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]}

    def measure(self, s, recorder):
        recipe = DataRecipe.inline(*_data(s["samples"]))
        data = recipe.load()
        x, y = data.x, data.y
        groups = {}
        for act in ("relu", "leaky_relu"):
            cases = [c for c in CASES if c[1] == act]
            model = _net(act, [c[2] for c in cases], [c[3] for c in cases])
            pred0 = model.predict(x)                         # (M, N, 1)
            loss0 = compute_gradients(model, x, y, "half_sse")
            grads0 = {k: v.reshape(model.M, -1)[:, 0].copy() for k, v in model.grads.items()}
            check = gradcheck(model, x, y, "half_sse", check_input=False)
            numeric = {c.name: c.numeric.reshape(model.M, -1)[:, 0] for c in check.params}
            dead0 = {k: v.copy() for k, v in count_dead_units(model, x).items()}
            w0 = {k: v.copy() for k, v in model.params.items()}
            hist = model.fit(x, y, loss="half_sse", optimizer=SGD(lr=s["lr"]), batch_size="full",
                             steps=s["steps"], log_every=max(1, s["steps"] // 200), metrics=[],
                             callbacks=[recorder.callback(recipe, f"{act}, weights set by hand")], progress=False)
            dead1 = count_dead_units(model, x) if act == "relu" else {k: v * 0 for k, v in dead0.items()}
            groups[act] = {
                "labels": [c[0] for c in cases], "pred0": pred0[..., 0], "loss0": loss0, "grads0": grads0,
                "numeric0": numeric, "dead0": dead0, "dead1": dead1, "w0": w0,
                "w1": {k: v.copy() for k, v in model.params.items()}, "steps": hist.steps,
                "loss": hist.curves["loss"], "final_loss": final_values(hist.curves["loss"]),
            }
        # the loss as a function of w1 with w2 = 1: flat for w1 <= 0 (the seed's argument)
        grid = np.array(s["w1 grid"])
        scan = _net("relu", grid, np.ones_like(grid))
        from ..losses import get as get_loss  # noqa: PLC0415

        scan_loss = get_loss("half_sse").value(scan.forward(x, False), y)
        return {"groups": groups, "w1_grid": grid, "w1_loss": scan_loss, "x": x}

    def analyze(self, data, s, report):
        rows, summary = [], []
        for act, g in data["groups"].items():
            for m, label in enumerate(g["labels"]):
                zeros = int(np.sum(g["pred0"][m] == 0))
                gw1, gw2 = g["grads0"]["dense_0.W"][m], g["grads0"]["dense_1.W"][m]
                moved = max(abs(g["w1"][k][m].ravel()[0] - g["w0"][k][m].ravel()[0]) for k in g["w0"])
                rows.append([label, f"{zeros}/{len(g['pred0'][m])}", gw1, gw2,
                             float(max(abs(g["numeric0"]["dense_0.W"][m]), abs(g["numeric0"]["dense_1.W"][m]))),
                             float(g["loss0"][m]), float(g["final_loss"][m]), moved])
                summary.append([label, f"{zeros}/{len(g['pred0'][m])}", gw1, gw2, float(g["final_loss"][m])])
                report.number(f"{label}.grad_w1", gw1)
                report.number(f"{label}.grad_w2", gw2)
                report.number(f"{label}.final_loss", g["final_loss"][m])
                report.number(f"{label}.moved", moved)
        relu = data["groups"]["relu"]
        n = len(data["x"])
        # findings: one per case, each from its own numbers
        for m, label in enumerate(relu["labels"]):
            zeros = int(np.sum(relu["pred0"][m] == 0))
            gw1, gw2 = relu["grads0"]["dense_0.W"][m], relu["grads0"]["dense_1.W"][m]
            moved = max(abs(relu["w1"][k][m].ravel()[0] - relu["w0"][k][m].ravel()[0]) for k in relu["w0"])
            dead = [k for k, v in relu["dead0"].items() if v[m] > 0]
            stuck = moved == 0
            report.finding(
                f"{label}: predicted 0 for {count_of(zeros, n, 'examples')}; dead units at the start: "
                f"{names_list(dead)}; initial gradient dL/dw1 = {fmt(gw1)}, dL/dw2 = {fmt(gw2)}; after "
                f"{s['steps']:,} SGD steps the weights "
                + choose(stuck, f"had not moved at all and the loss stayed at {fmt(float(relu['final_loss'][m]))}.",
                         f"moved by up to {fmt(moved)} and the loss went from {fmt(float(relu['loss0'][m]))} to "
                         f"{fmt(float(relu['final_loss'][m]))}."))
        leaky = data["groups"]["leaky_relu"]
        lg = leaky["grads0"]["dense_0.W"][0]
        healthy_g = relu["grads0"]["dense_0.W"][relu["labels"].index(CASES[2][0])]
        report.finding(
            f"Same dead start with LeakyReLU: dL/dw1 = {fmt(lg)} "
            + choose(lg != 0, "(small but not zero, because the negative side has slope 0.01)",
                     "(zero, so LeakyReLU did not help here)")
            + f"; in {s['steps']:,} steps the loss went from {fmt(float(leaky['loss0'][0]))} to "
            f"{fmt(float(leaky['final_loss'][0]))} ("
            + choose(leaky["final_loss"][0] < 0.5 * leaky["loss0"][0], "it recovered).",
                     f"a relative drop of {fmt(float(1 - leaky['final_loss'][0] / leaky['loss0'][0]))}: with both "
                     f"units on the 0.01 slope, |dL/dw1| is {fmt(float(abs(lg / healthy_g)))} "
                     "times the healthy network's, so recovery is slow)."))
        grid, wl = data["w1_grid"], data["w1_loss"]
        neg = wl[grid <= 0]
        flat = bool(np.all(neg == neg[0]))
        report.finding(
            f"Loss against w1 (w2 = 1): " + choose(flat, f"exactly {fmt(float(neg[0]))} for every w1 <= 0 tried "
                                                         f"({names_list([fmt(v) for v in grid[grid <= 0]])})",
                                                   "not constant for w1 <= 0")
            + f"; {', '.join(f'w1 = {fmt(v)}: {fmt(float(l))}' for v, l in zip(grid[grid > 0], wl[grid > 0]))} — "
            + choose(bool(np.all(wl[grid > 0] < neg.min())), "raising w1 above 0 lowers the loss, as the seed says.",
                     "raising w1 above 0 did not lower the loss here."))
        report.set_summary(["network", "predicts 0 for", "dL/dw1 at start", "dL/dw2 at start", "final loss"], summary)
        report.section("Gradients at the start and after training")
        report.table(["case", "predicts 0 for", "dL/dw1 (backprop)", "dL/dw2 (backprop)",
                      "max abs finite-difference gradient", "loss at start", "final loss", "max weight change"], rows,
                     caption="The finite-difference column is a gradient check: central differences of the loss, "
                             "independent of backprop.")
        report.figure("training.png", curves(
            relu["steps"], {**{l: relu["loss"][m] for m, l in enumerate(relu["labels"])},
                            leaky["labels"][0]: leaky["loss"][0]}, metric="loss", title="dead and healthy units"),
            "Loss during training: the dead networks' curves are flat lines.")

        def draw(fig):
            ax = fig.add_subplot()
            ax.plot(grid, wl, "o-")
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("w1 (w2 = 1)")
            ax.set_ylabel("loss")
            ax.set_title("loss is flat for w1 <= 0: no gradient to follow", fontsize="medium")
            ax.grid(alpha=0.3)

        report.figure("loss_vs_w1.png", draw, "Loss as a function of w1 with w2 = 1.")
