"""Study ``dead-relu`` (seed 004, question 2.3): a ReLU that only sees negative inputs never learns.

The seed's network: ``h1 = ReLU(w1 x)``, ``h2 = ReLU(w2 h1)``, no biases, only positive x. With
w1 < 0 every pre-activation ``w1 x`` is negative, so h1 = 0, the prediction is 0 for every
example, and dL/dw1 = dL/dh2 * dh2/dh1 * ReLU'(w1 x) * x = 0 (and dL/dw2 = dL/dh2 * ReLU'(.) * h1
= 0): no gradient-based method moves either weight. The seed adds that with w2 < 0 the second
ReLU is dead whatever the input (h1 >= 0 always, so w2 h1 <= 0).

Four networks train side by side on the model axis (initial weights set by hand):
dead first unit (w1 = -1, w2 = 1), dead second unit (w1 = 1, w2 = -1), a healthy one
(w1 = 1, w2 = 1), and — as a separate ensemble, since its activation differs — the same dead
start with LeakyReLU (alpha 0.01), whose negative side still passes a gradient. Besides the
training inputs, each network is also shown the negated inputs ``-x`` and a grid of inputs, to
test "whatever the input".

Every finding is a claim (:meth:`~glassnet.studies.report.Report.claim`) whose premise is
checked on these measurements; the training figure has one row per finding about a network.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import compute_gradients, count_dead_units, gradcheck
from ..layers import Dense
from ..losses import get as get_loss
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, final_values
from .report import count_of, fmt, names_list
from .runconfig import DataRecipe

#: (key, label, activation, w1, w2)
CASES = [("dead_first", "dead first ReLU (w1=-1, w2=1)", "relu", -1.0, 1.0),
         ("dead_second", "dead second ReLU (w1=1, w2=-1)", "relu", 1.0, -1.0),
         ("healthy", "healthy (w1=1, w2=1)", "relu", 1.0, 1.0),
         ("leaky", "LeakyReLU, w1=-1, w2=1", "leaky_relu", -1.0, 1.0)]
#: a network "learned" when its loss fell below this share of its starting loss
LEARNED = 1e-3
#: LeakyReLU "recovered" when its loss fell below this share of its starting loss
RECOVERED = 0.5
SEED = {
    "dead_first": "that with w1 < 0 and only positive inputs the network predicts 0 for every example and no "
                  "gradient-based method changes the weight (question 2.3 and its bonus)",
    "dead_second": "that with w2 < 0 the network is dead whatever the input (bonus question)",
    "leaky": "that LeakyReLU avoids dying units, whose gradient is zero (question 1.3)",
    "w1_scan": "that decreasing w1 does not change the loss and raising it above 0 can decrease it (question 2.3)",
}


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


def _weights(model) -> dict:
    """w1 and w2 of every network, ``(M,)`` each (read-only)."""
    return {"w1": model.layers[0].W.value[:, 0, 0].copy(), "w2": model.layers[1].W.value[:, 0, 0].copy()}


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
                "w1 grid": [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], "input grid": "-2.5 to 2.5, 101 points"}

    def measure(self, s, recorder):
        recipe = DataRecipe.inline(*_data(s["samples"]))
        data = recipe.load()
        x, y = data.x, data.y
        grid_x = np.linspace(-2.5, 2.5, 101)[:, None]
        groups = {}
        for act in ("relu", "leaky_relu"):
            cases = [c for c in CASES if c[2] == act]
            model = _net(act, [c[3] for c in cases], [c[4] for c in cases])
            pred0 = model.predict(x)                         # (M, N, 1)
            pred_neg = model.predict(-x)                     # the same inputs, negated
            grid0 = model.predict(grid_x)
            loss0 = compute_gradients(model, x, y, "half_sse")
            grads0 = {k: v.reshape(model.M, -1)[:, 0].copy() for k, v in model.grads.items()}
            check = gradcheck(model, x, y, "half_sse", check_input=False)
            numeric = {c.name: c.numeric.reshape(model.M, -1)[:, 0] for c in check.params}
            dead0 = {k: v.copy() for k, v in count_dead_units(model, x).items()}
            w0 = {k: v.copy() for k, v in model.params.items()}
            probe = Probe(_weights)
            hist = model.fit(x, y, loss="half_sse", optimizer=SGD(lr=s["lr"]), batch_size="full",
                             steps=s["steps"], log_every=max(1, s["steps"] // 200), metrics=[],
                             callbacks=[probe, recorder.callback(recipe, f"{act}, weights set by hand")],
                             progress=False)
            dead1 = count_dead_units(model, x) if act == "relu" else {k: v * 0 for k, v in dead0.items()}
            groups[act] = {
                "keys": [c[0] for c in cases], "labels": [c[1] for c in cases], "pred0": pred0[..., 0],
                "pred_neg": pred_neg[..., 0], "grid0": grid0[..., 0], "grid1": model.predict(grid_x)[..., 0],
                "loss0": loss0, "grads0": grads0, "numeric0": numeric, "dead0": dead0, "dead1": dead1, "w0": w0,
                "w1": {k: v.copy() for k, v in model.params.items()}, "steps": hist.steps,
                "loss": hist.curves["loss"], "final_loss": final_values(hist.curves["loss"]),
                "w_steps": np.array(probe.steps), "w_path": {k: v.T for k, v in probe.values.items()},  # (M, T)
            }
        # the loss as a function of w1 with w2 = 1: flat for w1 <= 0 (the seed's argument)
        w1_grid = np.array(s["w1 grid"])
        scan = _net("relu", w1_grid, np.ones_like(w1_grid))
        scan_loss = get_loss("half_sse").value(scan.forward(x, False), y)
        return {"groups": groups, "w1_grid": w1_grid, "w1_loss": scan_loss, "x": x, "y": y, "grid_x": grid_x[:, 0]}

    def analyze(self, data, s, report):
        rows, summary, case = [], [], {}
        for act, g in data["groups"].items():
            for m, (key, label) in enumerate(zip(g["keys"], g["labels"])):
                c = _case(g, m, key, label)
                case[key] = c
                rows.append([label, f"{c['zeros']}/{c['n']}", c["gw1"], c["gw2"], c["fd"], c["loss0"], c["final"],
                             c["moved"]])
                summary.append([label, f"{c['zeros']}/{c['n']}", c["gw1"], c["gw2"], c["final"]])
                report.number(f"{label}.grad_w1", c["gw1"])
                report.number(f"{label}.grad_w2", c["gw2"])
                report.number(f"{label}.final_loss", c["final"])
                report.number(f"{label}.moved", c["moved"])
        H = s["steps"]
        for key in ("dead_first", "dead_second"):
            _dead_claim(report, case[key], H)
        _any_input_claim(report, case["dead_second"], case["dead_first"], data["grid_x"])
        _healthy_claim(report, case["healthy"], H)
        _leaky_claims(report, case["leaky"], case["healthy"], H)
        _scan_claim(report, data["w1_grid"], data["w1_loss"])
        report.set_summary(["network", "predicts 0 for", "dL/dw1 at start", "dL/dw2 at start", "final loss"], summary)
        report.section("Gradients at the start and after training")
        report.table(["case", "predicts 0 for", "dL/dw1 (backprop)", "dL/dw2 (backprop)",
                      "max abs finite-difference gradient", "loss at start", "final loss", "max weight change"], rows,
                     caption="The finite-difference column is a gradient check: central differences of the loss, "
                             "independent of backprop.")
        keys = [c[0] for c in CASES]
        report.figure("training.png", lambda fig: _draw_cases(fig, data, [case[k] for k in keys], s),
                      "One row per network (one per finding above): its loss, its two weights and its prediction "
                      "against the input, before (dashed) and after (solid) training. The dead networks' rows are "
                      "flat: nothing moves.", size=(9.6, 9.0))
        grid, wl = data["w1_grid"], data["w1_loss"]

        def draw(fig):
            ax = fig.add_subplot()
            ax.plot(grid, wl, "o-")
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("w1 (w2 = 1)")
            ax.set_ylabel("loss (half SSE, training set)")
            ax.set_title("loss is flat for w1 <= 0: no gradient to follow", fontsize="medium")
            ax.grid(alpha=0.3)

        report.figure("loss_vs_w1.png", draw, "Loss as a function of w1 with w2 = 1 (the last finding).")


def _case(g, m, key, label) -> dict:
    """The numbers of network ``m`` of group ``g`` that its finding rests on."""
    moved = max(abs(g["w1"][k][m].ravel()[0] - g["w0"][k][m].ravel()[0]) for k in g["w0"])
    return {"key": key, "label": label, "m": m, "n": len(g["pred0"][m]),
            "zeros": int(np.sum(g["pred0"][m] == 0)), "zeros_neg": int(np.sum(g["pred_neg"][m] == 0)),
            "grid_zero": bool(np.all(g["grid0"][m] == 0)), "gw1": float(g["grads0"]["dense_0.W"][m]),
            "gw2": float(g["grads0"]["dense_1.W"][m]),
            "fd": float(max(abs(g["numeric0"]["dense_0.W"][m]), abs(g["numeric0"]["dense_1.W"][m]))),
            "dead": [k for k, v in g["dead0"].items() if v[m] > 0], "loss0": float(g["loss0"][m]),
            "final": float(g["final_loss"][m]), "moved": float(moved),
            "w1_end": float(g["w1"]["dense_0.W"][m].ravel()[0]), "w2_end": float(g["w1"]["dense_1.W"][m].ravel()[0]),
            "group": g}


def _moved_text(c, H: int) -> str:
    if c["moved"] == 0:
        return f"after {H:,} SGD steps the weights had not moved at all and the loss stayed at {fmt(c['final'])}"
    return (f"after {H:,} SGD steps the weights moved by up to {fmt(c['moved'])} and the loss went from "
            f"{fmt(c['loss0'])} to {fmt(c['final'])}")


def _dead_claim(report, c, H: int) -> None:
    """A dead network never learns: it predicts 0 everywhere, its gradient is exactly 0 (backprop
    and finite differences) and training leaves its weights where they were."""
    dead = c["zeros"] == c["n"] and c["gw1"] == 0 and c["gw2"] == 0 and c["moved"] == 0
    head = (f"{c['label']}: predicted 0 for {count_of(c['zeros'], c['n'], 'examples')}; dead units at the start: "
            f"{names_list(c['dead'])}; initial gradient dL/dw1 = {fmt(c['gw1'])}, dL/dw2 = {fmt(c['gw2'])} "
            f"(largest finite-difference gradient {fmt(c['fd'])}); ")
    report.claim(f"{c['key']}.never_learns", dead,
                 head + _moved_text(c, H) + ": a dead network gets no gradient and never learns.",
                 head + _moved_text(c, H) + ": this network was not dead.",
                 {"zeros": c["zeros"], "grad_w1": c["gw1"], "grad_w2": c["gw2"], "moved": c["moved"],
                  "final_loss": c["final"]}, seed=SEED[c["key"]])


def _any_input_claim(report, second, first, grid_x) -> None:
    """w2 < 0 kills the network for every input; w1 < 0 only for inputs of one sign."""
    n = second["n"]
    premise = second["zeros_neg"] == n and second["grid_zero"]
    lo, hi = fmt(float(grid_x[0])), fmt(float(grid_x[-1]))
    contrast = (f"; the dead-first network (w1 = -1) predicted 0 for {count_of(first['zeros_neg'], n, 'negated inputs')}"
                + ("" if first["zeros_neg"] == n else ": a negative w1 kills it only for inputs of one sign"))
    report.claim("dead_second.any_input", premise,
                 f"Whatever the input: with w2 = -1 the network also predicted 0 for all {n} negated inputs (-x) "
                 f"and on every point of a grid from {lo} to {hi}, because h1 = ReLU(w1 x) >= 0 makes w2 h1 <= 0"
                 + contrast + ".",
                 f"With w2 = -1 the network predicted 0 for {count_of(second['zeros_neg'], n, 'negated inputs')} (-x)"
                 + ("" if second["grid_zero"] else f" and not on the whole grid from {lo} to {hi}")
                 + ": it was not dead for every input" + contrast + ".",
                 {"zeros_negated": second["zeros_neg"], "first_zeros_negated": first["zeros_neg"]},
                 seed=SEED["dead_second"])


def _healthy_claim(report, c, H: int) -> None:
    learned = c["final"] < LEARNED * c["loss0"]
    head = (f"{c['label']}: predicted 0 for {count_of(c['zeros'], c['n'], 'examples')}; initial gradient "
            f"dL/dw1 = {fmt(c['gw1'])}, dL/dw2 = {fmt(c['gw2'])}; ")
    report.claim("healthy.learns", learned,
                 head + _moved_text(c, H) + f", to w1 * w2 = {fmt(c['w1_end'] * c['w2_end'])} (the target's slope is "
                 "2): the same network with positive weights learns.",
                 head + _moved_text(c, H) + f" (w1 * w2 = {fmt(c['w1_end'] * c['w2_end'])}, target slope 2): it did "
                 f"not learn within {H:,} steps (loss not below {fmt(LEARNED)} of its start).",
                 {"loss0": c["loss0"], "final_loss": c["final"]})


def _leaky_claims(report, c, healthy, H: int) -> None:
    lg, share = c["gw1"], abs(c["gw1"] / healthy["gw1"]) if healthy["gw1"] else np.nan
    report.claim("leaky.gradient", lg != 0,
                 f"Same dead start with LeakyReLU: dL/dw1 = {fmt(lg)} (small but not zero, because the negative side "
                 f"has slope 0.01; {fmt(share)} times the healthy network's), so the unit is not dead.",
                 f"Same dead start with LeakyReLU: dL/dw1 = {fmt(lg)} (zero, so LeakyReLU did not help here).",
                 {"grad_w1": lg, "share_of_healthy": share}, seed=SEED["leaky"])
    drop = 1 - c["final"] / c["loss0"] if c["loss0"] else np.nan
    w1_start = float(c["group"]["w0"]["dense_0.W"][c["m"]].ravel()[0])
    per_step = (c["w1_end"] - w1_start) / max(H, 1)
    # steps still needed to bring w1 to 0 at the pace of this run (the gradient barely changes there)
    more = -c["w1_end"] / per_step if per_step > 0 and c["w1_end"] < 0 else None
    report.claim("leaky.recovers", c["final"] < RECOVERED * c["loss0"],
                 f"LeakyReLU from the dead start: in {H:,} steps the loss went from {fmt(c['loss0'])} to "
                 f"{fmt(c['final'])}: it recovered.",
                 f"LeakyReLU from the dead start: in {H:,} steps the loss went from {fmt(c['loss0'])} to "
                 f"{fmt(c['final'])} (a relative drop of {fmt(drop)}): it did not recover within this budget; w1 "
                 f"moved from {fmt(w1_start)} to {fmt(c['w1_end'])}"
                 + (f", and at that pace it would need about {fmt(more)} more steps to reach 0, where the units "
                    "turn positive" if more else "") + ".",
                 {"loss0": c["loss0"], "final_loss": c["final"], "relative_drop": drop, "steps_to_zero": more})


def _scan_claim(report, grid, wl) -> None:
    neg, pos = wl[grid <= 0], wl[grid > 0]
    flat = bool(np.all(neg == neg[0]))
    lower = bool(pos.size and np.all(pos < neg.min()))
    pos_text = ", ".join(f"w1 = {fmt(v)}: {fmt(float(l))}" for v, l in zip(grid[grid > 0], pos))
    where = names_list([fmt(v) for v in grid[grid <= 0]])
    report.claim("w1_scan", flat and lower,
                 f"Loss against w1 (w2 = 1): exactly {fmt(float(neg[0]))} for every w1 <= 0 tried ({where}); "
                 f"{pos_text} — raising w1 above 0 lowers the loss.",
                 "Loss against w1 (w2 = 1): "
                 + (f"exactly {fmt(float(neg[0]))} for every w1 <= 0 tried ({where})" if flat else
                    f"not constant for w1 <= 0 ({', '.join(fmt(float(v)) for v in neg)} at w1 = {where})")
                 + f"; {pos_text} — "
                 + ("raising w1 above 0 lowers the loss." if lower else "raising w1 above 0 did not lower the loss here."),
                 {"loss_at_w1_le_0": float(neg[0]), "loss_at_largest_w1": float(pos[-1]) if pos.size else None},
                 seed=SEED["w1_scan"])


def _draw_cases(fig, data, cases, s) -> None:
    """One row per network: loss | w1 and w2 | prediction against the input, start and end."""
    from .panels import color  # noqa: PLC0415

    axes = fig.subplots(len(cases), 3, squeeze=False)
    gx = data["grid_x"]
    x = data["x"][:, 0]
    for row, c in zip(axes, cases):
        g, m = c["group"], c["m"]
        ax = row[0]
        loss = np.maximum(np.asarray(g["loss"][m], dtype=float), 1e-32)
        ax.plot(g["steps"], loss, color=color(0), lw=1.4)
        lo, hi = loss.min(), loss.max()
        if hi / lo > 10:
            ax.set_yscale("log")
        else:  # a flat line: a linear axis from 0, so it does not look like a change
            ax.set_ylim(0, hi * 1.3)
        ax.set_ylabel("loss (half SSE, training set)", fontsize=8)
        ax.set_title(c["label"], fontsize=9, loc="left")
        ax = row[1]
        T = len(g["w_steps"])
        for i, name in enumerate(("w1", "w2")):  # markers at different steps: w1 = w2 stays visible
            ax.plot(g["w_steps"], g["w_path"][name][m], color=color(i + 1), ls=("-", "--")[i], lw=1.4,
                    marker="os"[i], ms=4, markevery=(i * T // 16, T // 8), label=name)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylabel("weight value", fontsize=8)
        ax.legend(fontsize=7, loc="center right", frameon=False)
        ax = row[2]
        ax.axvspan(x.min(), x.max(), color="grey", alpha=0.15, lw=0)
        ax.plot(gx, 2 * gx, color="grey", ls=":", lw=1, label="target 2x")
        n = len(gx)
        ax.plot(gx, g["grid0"][m], color=color(3), ls="--", lw=1.4, marker="o", ms=4, markevery=(0, n // 8),
                label="start")
        ax.plot(gx, g["grid1"][m], color=color(2), lw=1.4, alpha=0.8, marker="s", ms=4, markevery=(n // 16, n // 8),
                label="end")
        ax.set_ylim(-3, 6)
        ax.set_ylabel("prediction", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        for a in row:
            a.grid(alpha=0.3)
            a.tick_params(labelsize=7)
    for a in axes[-1][:2]:
        a.set_xlabel("training step")
    axes[-1][2].set_xlabel("input x (shaded: the training inputs)")
