"""Study ``momentum`` (seed 000, question 5): momentum 0, 0.9, 0.99 and 0.999999.

With momentum mu the update keeps a velocity ``v <- mu v + g; w <- w - lr v``: past gradients
keep pushing, which speeds up long shallow valleys but carries the weights past the minimum.
The closer mu is to 1, the less the velocity decays (by the factor mu per step), so at
mu = 0.999999 the weights swing through the minimum almost without friction.

1. A convex problem: least-squares linear regression with two weights and no bias (a quadratic
   bowl with a known minimum, from ``numpy.linalg.lstsq``), full-batch, all four momenta as one
   ensemble (momentum is a per-model hyperparameter). The weights are recorded at every step.
2. A small network: the Playground circle set, 2-8-1 tanh, minibatch SGD, the same momenta.
"""

from __future__ import annotations


import numpy as np

from .. import losses as losses_mod
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, by_config, final_values, first_below, grid
from .panels import DASHES, color, legend_outside, log_limits, seed_lines
from .report import count_of, fmt, names_list, pct, ratio_phrase, step_text
from .runconfig import DataRecipe

MOMENTA = (0.0, 0.9, 0.99, 0.999999)
START = (-2.0, 2.5)


def regression_data(n: int = 200, seed: int = 0):
    """x with two features of different scales (an elongated bowl), y = x w* + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * np.array([1.0, 0.35])
    y = x @ np.array([1.5, -1.0]) + 0.1 * rng.normal(size=n)
    return x, y[:, None]


def _crossings(traj, w_star, tol: float) -> int:
    """How often the trajectory passes through the minimum along either coordinate, counting only
    swings that reach at least ``tol`` beyond it (rounding-level jitter at the end is no overshoot)."""
    total = 0
    for k in range(traj.shape[1]):
        d = traj[:, k] - w_star[k]
        side = np.sign(d[np.abs(d) > tol])
        total += int(np.sum(side[1:] != side[:-1]))
    return total


def _mu(mu) -> str:
    """0.999999 must not print as 1."""
    return f"{mu:g}"


def _train_set_probe(x, y):
    """Loss and accuracy on the whole training set at each logged step (read-only): the Trainer's
    own ``loss`` is that step's minibatch, too noisy to compare momenta with."""
    bce = losses_mod.get("binary_cross_entropy")
    yf = np.asarray(y, dtype=float).reshape(len(y), 1)

    def fn(model):
        pred = model.forward(x, False)
        with np.errstate(invalid="ignore"):
            return {"loss": bce.value(pred, yf), "accuracy": ((pred[..., 0] > 0.5) == (yf[:, 0] > 0.5)).mean(axis=1)}

    return fn


#: what the seed (000, question 5) says, quoted where a measurement tests it
SEED = {
    "faster": "that momentum reaches the bottom of the valley faster than plain gradient descent",
    "overshoot": "that a momentum close to 1 shoots past the minimum, comes back, overshoots again and oscillates "
                 "many times before converging",
    "settle": "that with a momentum too close to 1 it can take much longer to converge",
}
#: the small net at the top momentum "ended worse" when its training-set loss is this many times the
#: best momentum's AND its training-set accuracy is at least ACC_GAP below the best's
LOSS_FACTOR, ACC_GAP = 2.0, 0.02


@register_study
class MomentumStudy(Study):
    name = "momentum"
    seed_file = "000_16da2bc5b32683df.txt"
    title = "momentum 0, 0.9, 0.99, 0.999999: overshoot and oscillation"
    summary = "seed 000 q5: momentum up to 0.999999 on a quadratic bowl and a small net; overshoot, oscillation"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "momenta": list(MOMENTA), "convex problem": "least squares, 2 weights, mse",
                "convex lr": 0.1, "convex steps": 400 if quick else 3000, "start": list(START),
                "converged when excess loss <": 1e-6, "net": "circle (n=400), 2-8-1 tanh + sigmoid, BCE",
                "net lr": 0.05, "net batch_size": 32, "net steps": 1000 if quick else 5000}

    def measure(self, s, recorder):
        bowl = DataRecipe.inline(*regression_data())
        data = bowl.load()
        x, y = data.x, data.y
        w_star = np.linalg.lstsq(x, y, rcond=None)[0][:, 0]
        mse = losses_mod.get("mse")
        best = float(mse.value((x @ w_star)[None, :, None], y)[0])
        M = len(s["momenta"])
        model = Sequential([Dense(1, use_bias=False)], input_shape=(2,), seed=list(range(M)), dtype="float64")
        model.layers[0].W.value[:, :, 0] = START
        probe = Probe(lambda m: {"w": m.layers[0].W.value[:, :, 0].copy()})
        hist = model.fit(x, y, loss="mse", optimizer=SGD(lr=s["convex lr"], momentum=s["momenta"]),
                         batch_size="full", steps=s["convex steps"], log_every=1, metrics=[],
                         callbacks=[probe, recorder.callback(bowl, "quadratic bowl, weights start at START")],
                         progress=False)
        convex = {"steps": hist.steps, "excess": hist.curves["loss"] - best, "traj": probe.values["w"].transpose(1, 0, 2),
                  "w_star": w_star, "best": best, "status": np.array(hist.status)}
        # a small network on the circle set
        circle = DataRecipe("circle", options={"n": 400, "noise": 0.05, "seed": 1}, standardize=True)
        cd = circle.load()
        mom, seeds = grid(s["momenta"], s["seeds"])
        net = Sequential([Dense(8, activation="tanh"), Dense(1, activation="sigmoid")], input_shape=(2,),
                         seed=seeds, dtype="float64")
        full = Probe(_train_set_probe(cd.x, cd.y))
        h = net.fit(cd.x, cd.y, loss="binary_cross_entropy",
                    optimizer=SGD(lr=s["net lr"], momentum=mom), batch_size=s["net batch_size"],
                    steps=s["net steps"], log_every=max(1, s["net steps"] // 200), metrics=["accuracy"],
                    callbacks=[full, recorder.callback(circle, "small network")], progress=False)
        small = {"steps": h.steps, "loss": by_config(h.curves["loss"], M),
                 "accuracy": by_config(h.curves["accuracy"], M), "status": by_config(np.array(h.status), M),
                 "probe_steps": np.array(full.steps),
                 "train_loss": by_config(full.values["loss"].T, M),          # (C, S, T), whole training set
                 "train_accuracy": by_config(full.values["accuracy"].T, M)}
        return {"convex": convex, "net": small, "x": x, "y": y}

    def analyze(self, data, s, report):
        c, net = data["convex"], data["net"]
        mus, H, tol = s["momenta"], s["convex steps"], s["converged when excess loss <"]
        d0 = float(np.linalg.norm(np.array(START) - c["w_star"]))
        rows, conv, cross, dist = [], [], [], []
        for m, mu in enumerate(mus):
            st = first_below(c["steps"], c["excess"][m], tol)
            traj = c["traj"][m]
            k = _crossings(traj, c["w_star"], 1e-3 * d0)
            far = float(np.linalg.norm(traj[-1] - c["w_star"]))
            past = float(np.max(np.linalg.norm(traj - c["w_star"], axis=1)))
            conv.append(st), cross.append(k), dist.append(far)
            rows.append([_mu(mu), step_text(st, H), k, past, far, float(c["excess"][m, -1])])
            report.number(f"convex.step.{mu:g}", st)
            report.number(f"convex.crossings.{mu:g}", k)
            report.number(f"convex.final_distance.{mu:g}", far)
        report.section("Convex problem: least squares")
        report.table(["momentum", f"step excess loss < {fmt(tol)}", f"times it crossed the minimum (by > {fmt(1e-3 * d0)})",
                      "largest distance from the minimum", "distance at the end", "excess loss at the end"], rows,
                     caption=f"The start is {fmt(d0)} away from the minimum; excess loss = loss - least-squares loss. "
                             f"Every momentum had the same budget: lr {fmt(s['convex lr'])}, full batch, {H:,} steps.")
        self._convex_claims(report, c, s, conv, cross, dist, d0)
        st = self._net_claims(report, net, s)
        report.set_summary(["momentum", f"convex: step to excess < {fmt(tol)}", "convex: crossings",
                            "convex: final distance", "net: final loss", "net: training-set loss",
                            "net: training-set accuracy", "net: diverged"],
                           [[_mu(mu), step_text(conv[m], H), cross[m], dist[m], st["batch"][m], st["loss"][m],
                             pct(st["acc"][m]), f"{st['div'][m]}/{st['S']}"] for m, mu in enumerate(mus)])
        self._figures(report, data, s)

    # -- claims -----------------------------------------------------------------------------------
    def _convex_claims(self, report, c, s, conv, cross, dist, d0):
        mus, H, tol = s["momenta"], s["convex steps"], s["converged when excess loss <"]
        i9 = mus.index(0.9) if 0.9 in mus else 1
        base = conv[0]
        parts = []
        for m, mu in enumerate(mus):
            if conv[m] is None:
                parts.append(f"momentum {_mu(mu)} never within {H:,} steps (still {fmt(dist[m])} from the minimum)")
            else:
                rel = "" if m == 0 or base is None else \
                    ", " + ratio_phrase(conv[m], base, "slower than", "faster than", "as fast as") + " plain GD"
                parts.append(f"momentum {_mu(mu)} at step {fmt(conv[m])}{rel}")
        head = (f"Quadratic bowl (lr {fmt(s['convex lr'])}, full batch, {H:,} steps for every momentum), steps until "
                f"the excess loss fell below {fmt(tol)}: " + "; ".join(parts))
        faster = conv[i9] is not None and (base is None or conv[i9] < base)
        report.claim("convex.momentum_faster", faster,
                     head + f". Momentum {_mu(mus[i9])} reached the minimum before plain gradient descent.",
                     head + f". Momentum {_mu(mus[i9])} did not reach the minimum before plain gradient descent.",
                     {"plain": base, "momentum": conv[i9]}, seed=SEED["faster"])
        late = [float(np.max(np.linalg.norm(c["traj"][m][H // 2:] - c["w_star"], axis=1))) for m in range(len(mus))]
        mono = all(late[i] < late[i + 1] for i in range(1, len(late) - 1))
        more = all(cross[i] > 0 for i in range(1, len(mus)))
        text = ("Times the weights crossed the minimum: " + names_list([f"{_mu(mu)}: {k}" for mu, k in zip(mus, cross)])
                + "; largest distance from the minimum in the second half of the run: "
                + names_list([f"{_mu(mu)}: {fmt(v)}" for mu, v in zip(mus, late)]))
        report.claim("convex.overshoot", mono and more and cross[0] == 0,
                     text + " — among the non-zero momenta, the closer to 1, the larger the swings that are left; "
                            "plain gradient descent never overshot, it only approached.",
                     text + (" — among the non-zero momenta, the closer to 1, the larger the swings that are left"
                             if mono else " — among the non-zero momenta the swings left over are not ordered by the "
                                          "momentum")
                     + ("" if more else "; not every non-zero momentum overshot")
                     + ("; plain gradient descent never overshot, it only approached." if cross[0] == 0 else
                        f"; plain gradient descent crossed the minimum too ({cross[0]} times)."),
                     {f"crossings.{_mu(mu)}": k for mu, k in zip(mus, cross)}
                     | {f"late_distance.{_mu(mu)}": v for mu, v in zip(mus, late)}, seed=SEED["overshoot"])
        top = len(mus) - 1
        ex = c["excess"][top]
        tail = ex[len(ex) // 2:]
        report.number("convex.top.tail_min", float(np.min(tail)))
        head = (f"Momentum {_mu(mus[top])}: in the second half of the run the excess loss swung between "
                f"{fmt(float(np.min(tail)))} and {fmt(float(np.max(tail)))}")
        report.claim("convex.top_keeps_swinging", bool(np.max(tail) > 10 * tol and dist[top] > 0.01 * d0),
                     head + f", and after {H:,} steps the weights were still {fmt(dist[top])} from the minimum: the "
                            f"velocity loses only {fmt(1 - mus[top])} of itself per step, so the oscillation hardly "
                            "decays.",
                     head + f", so it still settled within the run ({fmt(dist[top])} from the minimum at the end).",
                     {"tail_min": float(np.min(tail)), "tail_max": float(np.max(tail)), "final_distance": dist[top]},
                     seed=SEED["settle"])

    def _net_claims(self, report, net, s) -> dict:
        mus = s["momenta"]
        C, S = net["train_loss"].shape[:2]
        fl = [float(np.nanmean(final_values(net["train_loss"][m]))) for m in range(C)]
        acc = [float(np.nanmean(final_values(net["train_accuracy"][m]))) for m in range(C)]
        batch = [float(np.nanmean(net["loss"][m, :, -1])) for m in range(C)]
        div = [int(np.sum(net["status"][m] == "diverged")) for m in range(C)]
        lo = [float(np.nanmin(final_values(net["train_accuracy"][m]))) for m in range(C)]
        hi = [float(np.nanmax(final_values(net["train_accuracy"][m]))) for m in range(C)]
        for m, mu in enumerate(mus):
            report.number(f"net.final_loss.{mu:g}", fl[m])
            report.number(f"net.final_accuracy.{mu:g}", acc[m])
        budget = (f"same budget for every momentum: lr {fmt(s['net lr'])}, batch {s['net batch_size']}, "
                  f"{s['net steps']:,} steps, the same initial weights ({S} seeds)")
        report.section("A small network")
        report.text(f"The 2-8-1 network on the circle set, {budget}. Losses and accuracies are measured on the whole "
                    "training set at every logged step; the last column is the Trainer's own loss, on that step's "
                    "minibatch of 32 points only.")
        report.table(["momentum", "training-set loss (mean at the end)", "training-set accuracy (mean, lowest seed "
                      "- highest)", "diverged", "last minibatch loss (mean)"],
                     [[_mu(mu), fl[m], f"{pct(acc[m])} ({pct(lo[m])} - {pct(hi[m])})", f"{div[m]}/{S}", batch[m]]
                      for m, mu in enumerate(mus)])
        best = int(np.nanargmin(fl))
        top = C - 1
        described = "; ".join(f"momentum {_mu(mu)}: loss {fmt(fl[m])}, accuracy {pct(acc[m])}"
                              + (f" ({count_of(div[m], S, 'seeds')} diverged)" if div[m] else "")
                              for m, mu in enumerate(mus))
        head = f"Small network (circle set, 2-8-1; {budget}), at the end on the whole training set: {described}"
        helps = min(fl[1:]) < fl[0] and max(acc[1:]) >= acc[0]
        report.claim("net.momentum_helps", helps,
                     head + f"; best momentum {_mu(mus[best])}, better than plain SGD in loss and no worse in accuracy.",
                     head + "; no momentum beat plain SGD in both loss and accuracy.",
                     {"plain_loss": fl[0], "best_loss": fl[best]}, seed=SEED["faster"])
        worse_loss = fl[top] > LOSS_FACTOR * fl[best]
        worse_acc = acc[top] <= acc[best] - ACC_GAP
        cmp = ratio_phrase(fl[top], fl[best], "higher than", "lower than", "as low as")
        why = (f"Momentum {_mu(mus[top])} against the best ({_mu(mus[best])}), same budget: training-set loss "
               f"{fmt(fl[top])} vs {fmt(fl[best])} ({cmp} the best), accuracy {pct(acc[top])} vs {pct(acc[best])}")
        report.claim("net.top_worse", worse_loss and worse_acc,
                     why + ": it ended worse in both.",
                     why + (f": a higher loss at nearly the same accuracy (within {100 * ACC_GAP:g} points) — the "
                            "loss differs, the classification of the training points hardly does."
                            if worse_loss else ": it did not end worse."),
                     {"loss": fl[top], "best_loss": fl[best], "accuracy": acc[top], "best_accuracy": acc[best]},
                     seed=SEED["settle"] if worse_loss and worse_acc else None)
        return {"loss": fl, "acc": acc, "batch": batch, "div": div, "S": S}

    # -- figures ----------------------------------------------------------------------------------
    def _figures(self, report, data, s):
        c, net = data["convex"], data["net"]
        mus = s["momenta"]
        x, y, w_star = data["x"], data["y"], c["w_star"]
        shown = min(200, c["traj"].shape[1])

        def draw(fig):
            axes = fig.subplots(2, 2, sharex=True, sharey=True)
            allw = np.concatenate([c["traj"][m][:shown] for m in range(len(mus))])
            lo, hi = allw.min(axis=0) - 0.5, allw.max(axis=0) + 0.5
            a = np.linspace(lo[0], hi[0], 120)
            b = np.linspace(lo[1], hi[1], 120)
            A, B = np.meshgrid(a, b)
            W = np.stack([A.ravel(), B.ravel()])
            L = ((x @ W - y) ** 2).mean(axis=0).reshape(A.shape)
            for ax, m in zip(axes.ravel(), range(len(mus))):
                ax.contour(A, B, np.log(L), levels=10, colors="grey", linewidths=0.5)
                t = c["traj"][m][:shown]
                ax.plot(t[:, 0], t[:, 1], lw=0.7, label="weights, step by step")
                ax.plot(*w_star, "k*", ms=9, label="minimum (least squares)")
                ax.plot(*START, "go", ms=5, label="start")
                ax.set_title(f"momentum {_mu(mus[m])}", fontsize="small")
            for ax in axes[-1]:
                ax.set_xlabel("w1 (weight on feature 1)")
            for ax in axes[:, 0]:
                ax.set_ylabel("w2 (weight on feature 2)")
            legend_outside(fig, axes[0, 0])
            fig.suptitle(f"first {shown} steps on the contours of the loss (log scale)", fontsize="medium")

        report.figure("trajectories.png", draw, f"Weight trajectories (first {shown} steps) for each momentum on "
                                                "the quadratic bowl.", size=(8.0, 5.6))

        def excess(fig):
            ax = fig.add_subplot()
            for m, mu in enumerate(mus):
                ax.plot(c["steps"], np.maximum(c["excess"][m], 1e-16), color=color(m), ls=DASHES[m % 4], lw=1.2,
                        label=f"momentum {_mu(mu)}")
            ax.set_yscale("log")
            ax.axhline(s["converged when excess loss <"], color="grey", ls=":", lw=1, label="converged below this")
            ax.set_xlabel("training step")
            ax.set_ylabel("excess loss (loss - least-squares loss)")
            ax.set_title("quadratic bowl (values below 1e-16 are float64 rounding, drawn at 1e-16)", fontsize=9)
            ax.grid(alpha=0.3)
            legend_outside(fig, ax)

        report.figure("excess_loss.png", excess, "Excess loss on the quadratic bowl.", size=(8.0, 4.0))

        def small(fig):
            C = len(mus)
            axes = fig.subplots(2, C, sharex=True, sharey="row", squeeze=False)
            steps = net["probe_steps"]
            for m, mu in enumerate(mus):
                seed_lines(axes[0, m], steps, net["train_loss"][m], m, f"momentum {_mu(mu)}", markers=0, ls="-")
                seed_lines(axes[1, m], steps, 100 * net["train_accuracy"][m], m, f"momentum {_mu(mu)}", markers=0, ls="-")
                axes[0, m].set_title(f"momentum {_mu(mu)}", fontsize=9)
                axes[1, m].set_xlabel("training step")
            log_limits(axes[0, 0], net["train_loss"], decades=5)
            axes[0, 0].set_ylabel("loss, whole training set")
            axes[1, 0].set_ylabel("accuracy (%), training set")
            axes[1, 0].set_ylim(40, 101)
            for ax in axes.ravel():
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
            fig.suptitle(f"2-8-1 network on the circle set: one line per seed ({net['train_loss'].shape[1]} seeds)",
                         fontsize=10)

        report.figure("net_loss.png", small, "Training-set loss (top) and accuracy (bottom) of the small network, "
                                             "one panel per momentum, one line per seed.", size=(10.0, 5.0))


__all__ = ["MomentumStudy"]
