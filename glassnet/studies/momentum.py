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
from .common import Probe, by_config, first_below, grid
from .report import choose, count_of, curves, fmt, names_list, ratio_phrase, step_text
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
        h = net.fit(cd.x, cd.y, loss="binary_cross_entropy",
                    optimizer=SGD(lr=s["net lr"], momentum=mom), batch_size=s["net batch_size"],
                    steps=s["net steps"], log_every=max(1, s["net steps"] // 200), metrics=["accuracy"],
                    callbacks=[recorder.callback(circle, "small network")], progress=False)
        small = {"steps": h.steps, "loss": by_config(h.curves["loss"], M),
                 "accuracy": by_config(h.curves["accuracy"], M), "status": by_config(np.array(h.status), M)}
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
                     caption=f"The start is {fmt(d0)} away from the minimum; excess loss = loss - least-squares loss.")
        base = conv[0]
        parts = []
        for m, mu in enumerate(mus):
            if conv[m] is None:
                parts.append(f"momentum {_mu(mu)} never within {H:,} steps (still {fmt(dist[m])} from the minimum)")
            else:
                rel = "" if m == 0 or base is None else \
                    ", " + ratio_phrase(conv[m], base, "slower than", "faster than", "as fast as") + " plain GD"
                parts.append(f"momentum {_mu(mu)} at step {fmt(conv[m])}{rel}")
        report.finding(f"Quadratic bowl, steps until the excess loss fell below {fmt(tol)}: " + "; ".join(parts) + ".")
        late = [float(np.max(np.linalg.norm(c["traj"][m][H // 2:] - c["w_star"], axis=1))) for m in range(len(mus))]
        mono = all(late[i] < late[i + 1] for i in range(1, len(late) - 1))
        report.finding(
            "Times the weights crossed the minimum: "
            + names_list([f"{_mu(mu)}: {k}" for mu, k in zip(mus, cross)])
            + "; largest distance from the minimum in the second half of the run: "
            + names_list([f"{_mu(mu)}: {fmt(v)}" for mu, v in zip(mus, late)])
            + choose(mono, " — among the non-zero momenta, the closer to 1, the larger the swings that are left",
                     " — among the non-zero momenta the swings left over are not ordered by the momentum")
            + choose(cross[0] == 0, "; plain gradient descent never overshot, it only approached.", "."))
        top = len(mus) - 1
        ex = c["excess"][top]
        tail = ex[len(ex) // 2:]
        report.number("convex.top.tail_min", float(np.min(tail)))
        report.finding(
            f"Momentum {_mu(mus[top])}: in the second half of the run the excess loss swung between "
            f"{fmt(float(np.min(tail)))} and {fmt(float(np.max(tail)))}"
            + choose(np.max(tail) > 10 * tol and dist[top] > 0.01 * d0,
                     f", and after {H:,} steps the weights were still {fmt(dist[top])} from the minimum: the velocity "
                     f"loses only {fmt(1 - mus[top])} of itself per step, so the oscillation hardly decays.",
                     ", so it still settled within the run."))
        fl = [float(np.nanmean(net["loss"][m, :, -1])) for m in range(len(mus))]
        div = [int(np.sum(net["status"][m] == "diverged")) for m in range(len(mus))]
        acc = [float(np.nanmean(net["accuracy"][m, :, -1])) for m in range(len(mus))]
        S = net["loss"].shape[1]
        for m, mu in enumerate(mus):
            report.number(f"net.final_loss.{mu:g}", fl[m])
        report.section("A small network")
        report.table(["momentum", "final training loss (mean)", "final batch accuracy (mean)", "diverged"],
                     [[_mu(mu), fl[m], acc[m], f"{div[m]}/{S}"] for m, mu in enumerate(mus)])
        best = int(np.nanargmin(fl))
        report.finding(
            "Small network (circle set, 2-8-1): final training loss "
            + names_list([f"{_mu(mu)}: {fmt(fl[m])}" + (f" ({count_of(div[m], S, 'seeds')} diverged)" if div[m] else "")
                          for m, mu in enumerate(mus)])
            + f"; best momentum {_mu(mus[best])}"
            + choose(fl[top] > 2 * fl[best],
                     f", and {_mu(mus[top])} ended {ratio_phrase(fl[top], fl[best], 'higher than', 'lower than', 'as low as')}"
                     " that.", "."))
        report.set_summary(["momentum", f"convex: step to excess < {fmt(tol)}", "convex: crossings",
                            "convex: final distance", "net: final loss", "net: diverged"],
                           [[_mu(mu), step_text(conv[m], H), cross[m], dist[m], fl[m], f"{div[m]}/{S}"]
                            for m, mu in enumerate(mus)])
        x, y, w_star = data["x"], data["y"], c["w_star"]

        def draw(fig):
            axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
            allw = np.concatenate([c["traj"][m] for m in range(len(mus))])
            lo, hi = allw.min(axis=0) - 0.5, allw.max(axis=0) + 0.5
            a = np.linspace(lo[0], hi[0], 120)
            b = np.linspace(lo[1], hi[1], 120)
            A, B = np.meshgrid(a, b)
            W = np.stack([A.ravel(), B.ravel()])
            L = ((x @ W - y) ** 2).mean(axis=0).reshape(A.shape)
            for ax, m in zip(axes, range(len(mus))):
                ax.contour(A, B, np.log(L), levels=10, colors="grey", linewidths=0.5)
                t = c["traj"][m][:shown]
                ax.plot(t[:, 0], t[:, 1], lw=0.7)
                ax.plot(*w_star, "k*", ms=9)
                ax.plot(*START, "go", ms=5)
                ax.set_title(f"momentum {_mu(mus[m])}", fontsize="small")
            fig.suptitle(f"first {shown} steps on the loss contours (star: minimum)", fontsize="medium")

        shown = min(200, c["traj"].shape[1])
        report.figure("trajectories.png", draw, f"Weight trajectories (first {shown} steps) for each momentum on "
                                                "the quadratic bowl.", size=(6.4, 5.4))
        report.figure("excess_loss.png", curves(c["steps"], {f"momentum {_mu(mu)}": np.maximum(c["excess"][m], 1e-16)
                                                             for m, mu in enumerate(mus)},
                                                metric="excess loss", title="quadratic bowl", logy=True),
                      "Excess loss on the quadratic bowl.")
        report.figure("net_loss.png", curves(net["steps"], {f"momentum {_mu(mu)}": net["loss"][m]
                                                            for m, mu in enumerate(mus)},
                                             metric="training loss (BCE)", title="2-8-1 network on the circle set"),
                      "Training loss of the small network per momentum.")
