"""Study ``loss-landscape``: sharp and flat minima, and the barrier between two solutions.

Not from a seed document (issue 16): two questions about the loss surface, answered with the
tools of :mod:`glassnet.landscape`, where every point of a slice is one network on the model axis.

1. **Sharp vs flat** (Keskar et al. 2017, https://arxiv.org/abs/1609.04836; Li et al. 2018,
   https://arxiv.org/abs/1712.09913): the same 2-16-16-2 tanh network on the Playground circle
   set, trained with minibatches of 8 and with the full batch (no weight decay), several seeds
   each. Around every trained network the loss is measured along filter-normalized random
   directions (1-D slices) and on one 2-D plane; the *rise* of the loss at distance 0.5 and the
   *width* of the region within 0.1 of the minimum's loss say how sharp it is. The comparison
   is fair only if both reached a similar training loss; the finding checks that first.
2. **Mode connectivity** (Frankle et al. 2020, https://arxiv.org/abs/1912.05671; Entezari et al.
   2022, https://arxiv.org/abs/2110.06296): the loss along the straight line between two
   independently trained networks (different seeds), before and after aligning the hidden units
   of one to the other by permutation and sign (tanh is odd), matched on the correlations of
   their weights or of their activations on the training set. The barrier is the largest rise of the
   loss above the straight line between the two ends.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from .. import landscape as L
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .report import choose, compare_phrase, fmt, pct, ratio_phrase
from .runconfig import DataRecipe

LOSS = "softmax_cross_entropy"


def _net(hidden: int, seeds) -> Sequential:
    return Sequential([Dense(hidden, activation="tanh"), Dense(hidden, activation="tanh"), Dense(2)],
                      input_shape=(2,), seed=list(seeds))


@register_study
class LossLandscape(Study):
    name = "loss-landscape"
    seed_file = ""
    title = "sharp vs flat minima (batch 8 vs full batch) and the barrier between two solutions before/after alignment"
    summary = ("issue 16: filter-normalized loss slices of small- vs full-batch minima; barrier between two "
               "networks before/after permutation+sign alignment")
    full_seeds = 5
    quick_seeds = 3

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "circle (n=200, noise 0.1, seed 0)", "network": "2-16-16-2 tanh",
                "hidden": 16, "loss": LOSS, "lr": 0.5, "small batch": 8, "small-batch epochs": 60 if quick else 150,
                "full-batch steps": 600 if quick else 1500, "directions per network": 16 if quick else 32,
                "1-D points": 41, "2-D grid": 21 if quick else 41, "radius": 0.5, "width rise": 0.1,
                "path points": 21 if quick else 41, "comparable if training losses within a factor": 2.0,
                "barrier gone below (share of the loss at the ends)": 0.25}

    def make_report(self, data, settings, out, quick, seconds, sweep_id=None):
        report = super().make_report(data, settings, out, quick, seconds, sweep_id=sweep_id)
        report.intro[0] = report.intro[0].replace(
            f"Reproduces seed `{self.seed_file}`.",
            "Issue 16 (no seed document): loss landscapes (Li et al. 2018) and mode connectivity (Entezari et al. "
            "2022), every point of a slice one network on the model axis.")
        return report

    def measure(self, s, recorder):
        recipe = DataRecipe("circle", options={"n": 200, "noise": 0.1, "seed": 0})
        data = recipe.load()
        x, y = data.x, data.y
        S = s["seeds"]
        nets, out = {}, {"x": x, "y": y}
        n = len(x)
        for label, batch, steps in (("small", s["small batch"], s["small-batch epochs"] * -(-n // s["small batch"])),
                                    ("full", "full", s["full-batch steps"])):
            model = _net(s["hidden"], range(S))
            hist = model.fit(x, y, loss=LOSS, optimizer=SGD(lr=s["lr"]), batch_size=batch, steps=steps,
                             log_every=max(1, steps // 100), progress=False,
                             callbacks=[recorder.callback(recipe, f"batch {batch}")])
            ev = model.evaluate(x, y, LOSS)
            rises, widths, curves = [], [], []
            t0 = time.perf_counter()
            for m in range(S):
                for sl in L.slices_1d(model, x, y, LOSS, s["directions per network"], m=m, rng=1000 + m,
                                      alphas=np.linspace(-1, 1, s["1-D points"])):
                    rises.append(sl.rise(s["radius"]))
                    widths.append(sl.width(s["width rise"]))
                    curves.append(sl.loss)
            t1 = time.perf_counter()
            g = np.linspace(-1, 1, s["2-D grid"])
            plane = L.slice_2d(model, x, y, LOSS, m=0, rng=7, alphas=g)
            t2 = time.perf_counter()
            nets[label] = model
            out[label] = {"batch": batch, "steps": int(steps), "loss": np.asarray(ev["loss"], float),
                          "accuracy": np.asarray(ev["accuracy"], float),
                          "curve_steps": hist.steps, "curves": hist.curves["loss"], "status": np.array(hist.status),
                          "rise": np.array(rises).reshape(S, -1), "width": np.array(widths).reshape(S, -1),
                          "alphas": np.linspace(-1, 1, s["1-D points"]), "slices": np.array(curves).reshape(
                              S, s["directions per network"], -1),
                          "plane": plane.loss, "plane_axis": g, "plane_models": plane.models,
                          "plane_chunks": plane.chunks, "plane_seconds": t2 - t1, "slices_seconds": t1 - t0}
        # mode connectivity between the small-batch networks of different seeds
        model = nets["small"]
        ts = np.linspace(0, 1, s["path points"])
        pairs = list(itertools.combinations(range(S), 2))
        paths = {"raw": [], "weights": [], "activations": []}
        similarity = {"weights": [], "activations": []}
        for a, b in pairs:
            pa = L.point(model, a)
            paths["raw"].append(L.interpolate(model, a, b, x, y, LOSS, ts=ts).loss)
            for method in ("weights", "activations"):
                al = L.align(model, a, b, method=method, x=x)
                similarity[method].append([after for _, after in al.similarity])
                paths[method].append(L.interpolate(model, pa, al.point, x, y, LOSS, ts=ts).loss)
        out["paths"] = {"ts": ts, "pairs": pairs, **{k: np.array(v) for k, v in paths.items()},
                        "similarity": {k: np.array(v) for k, v in similarity.items()}}
        return out

    # -- analysis: a pure function of the measurements ----------------------------------------------
    def analyze(self, data, s, report):
        sm, fb = data["small"], data["full"]
        r = s["radius"]
        tol = s["comparable if training losses within a factor"]
        ls, lf = float(np.mean(sm["loss"])), float(np.mean(fb["loss"]))
        rs, rf = float(np.mean(sm["rise"])), float(np.mean(fb["rise"]))
        ws, wf = float(np.mean(sm["width"])), float(np.mean(fb["width"]))
        S, D = sm["rise"].shape
        comparable = max(ls, lf) <= tol * min(ls, lf)
        lower_s = int(np.sum(sm["rise"].mean(axis=1) < fb["rise"].mean(axis=1)))
        # a difference counts only beyond two standard errors of the direction-to-direction spread
        se = float(np.sqrt(sm["rise"].var(ddof=1) / sm["rise"].size + fb["rise"].var(ddof=1) / fb["rise"].size))
        clear = abs(rf - rs) > 2 * se
        b8 = f"batch {s['small batch']}"
        measured = (f"{b8} ended at training loss {fmt(ls)}, the full batch at {fmt(lf)} (mean of {S} seeds); along "
                    f"{D} filter-normalized random directions per network the loss rose by {fmt(rs)} ({b8}) and "
                    f"{fmt(rf)} (full batch) at distance {fmt(r)}, standard error of the difference {fmt(se)}; "
                    f"{b8} was flatter for {lower_s} of {S} seeds")
        if not comparable:
            why = (f"Sharp vs flat not compared: the training losses are more than a factor {fmt(tol)} apart, so "
                   f"the minima differ in depth, not only in width ({measured}).")
        elif not clear:
            why = f"No clear difference in sharpness: the rises differ by less than two standard errors ({measured})."
        else:
            why = (f"The {b8} minima were the sharper ones, " + ratio_phrase(rs, rf, "sharper than", "flatter than",
                                                                                 "as sharp as", tol=0.0)
                   + f" the full-batch minima, the opposite of Keskar et al.'s observation ({measured}).")
        report.claim(
            "full_batch_sharper", comparable and clear and rf > rs,
            f"Full-batch minima are sharper: at a similar training loss, the full-batch minima were "
            + ratio_phrase(rf, rs, "sharper than", "flatter than", "as sharp as", tol=0.0)
            + f" the {b8} minima, as Keskar et al. and Li et al. report ({measured}).", why,
            {"loss_small": ls, "loss_full": lf, "rise_small": rs, "rise_full": rf, "se": se})
        report.claim(
            "small_batch_wider", ws > 1.05 * wf,
            f"The {b8} minima are wider: the loss stays within {fmt(s['width rise'])} of the minimum's over "
            f"{fmt(ws)} ({b8}) vs {fmt(wf)} (full batch) along the same directions.",
            f"The {b8} minima are not wider: the loss stays within {fmt(s['width rise'])} of the minimum's over "
            f"{fmt(ws)} ({b8}) vs {fmt(wf)} (full batch) — "
            + compare_phrase(ws, wf, "wider", "narrower", "about as wide", rel_tol=0.05) + ".",
            {"width_small": ws, "width_full": wf})
        p = data["paths"]
        bar = {k: np.array([L.barrier(p["ts"], row) for row in p[k]]) for k in ("raw", "weights", "activations")}
        raw, wts, act = (float(bar[k].mean()) for k in ("raw", "weights", "activations"))
        npairs = len(p["pairs"])
        ends = float(np.mean(p["raw"][:, [0, -1]]))
        share = s["barrier gone below (share of the loss at the ends)"]
        gone = share * ends   # a barrier this small is within the ends' own loss: no barrier to speak of
        setup = (f"between two independently trained {b8} networks ({npairs} pairs of seeds; ends at {fmt(ends)} on "
                 f"average) the loss along the straight line rose {fmt(raw)} above the line between its ends; "
                 f"after aligning the hidden units by permutation and sign on their activations, {fmt(act)}")
        report.claim(
            "alignment_removes_barrier", raw >= gone > act,
            f"Aligning hidden units removes the barrier: {setup} — below {fmt(gone)} ({pct(share, 0)} of the loss at "
            "the ends), so the two solutions are one basin up to a relabelling of their hidden units.",
            "Aligning hidden units did not remove the barrier: " + setup
            + choose(raw < gone, f" (there was hardly a barrier to remove: below {fmt(gone)} before aligning).",
                     choose(act < raw, f" ({pct(1 - act / raw if raw else 0)} lower, but not below {fmt(gone)}, "
                                       f"{pct(share, 0)} of the loss at the ends).",
                            " (no lower).")),
            {"raw": raw, "activations": act, "weights": wts})
        sim_w = float(np.mean(p["similarity"]["weights"]))
        sim_a = float(np.mean(p["similarity"]["activations"]))
        matched = (f"barrier {fmt(act)} after matching on activations, {fmt(wts)} after matching on weight "
                   f"correlations (incoming and outgoing weights, coordinate ascent over the layers), {fmt(raw)} "
                   f"without; mean matched correlation: activations {fmt(sim_a)}, weights {fmt(sim_w)}")
        report.claim(
            "activations_match_better", act < wts,
            f"Matching on activations aligned better than matching on weights: {matched}.",
            f"Matching on weights aligned at least as well as matching on activations: {matched}.",
            {"similarity_weights": sim_w, "similarity_activations": sim_a})
        lowest = {}
        for label, d in (("small", sm), ("full", fb)):
            c = d["plane"].shape[0] // 2
            lo = np.unravel_index(int(np.argmin(d["plane"])), d["plane"].shape)
            lowest[label] = (float(d["plane"].min()), float(d["plane_axis"][lo[0]]), float(d["plane_axis"][lo[1]]),
                             float(d["plane"][c, c]))
        at_center = [v[0] >= v[3] - 1e-6 * abs(v[3]) for v in lowest.values()]
        where = "; ".join(f"{label}: {fmt(v[3])} at the center, lowest {fmt(v[0])} at ({fmt(v[1])}, {fmt(v[2])})"
                          for v, label in zip(lowest.values(), (b8, "full batch")))
        plane = (f"{sm['plane'].shape[0]}x{sm['plane'].shape[1]} plane through each first network "
                 f"({sm['plane_models']:,} networks evaluated as one ensemble in {sm['plane_chunks']} batched pass"
                 f"{'es' if sm['plane_chunks'] > 1 else ''}, {sm['plane_seconds']:.2f} s; {where})")
        report.claim(
            "trained_network_lowest", all(at_center),
            f"Each trained network is the lowest point of its plane: on the {plane}.",
            f"Not every trained network is the lowest point of its plane (it sits near, not at, a minimum along "
            f"those directions): on the {plane}.",
            {"center_small": lowest["small"][3], "min_small": lowest["small"][0], "center_full": lowest["full"][3],
             "min_full": lowest["full"][0]})
        rows = [[b8, ls, float(np.mean(sm["accuracy"])), rs, ws, "—"],
                ["full batch", lf, float(np.mean(fb["accuracy"])), rf, wf, "—"],
                ["path, not aligned", "—", "—", "—", "—", raw],
                ["path, aligned on weights", "—", "—", "—", "—", wts],
                ["path, aligned on activations", "—", "—", "—", "—", act]]
        report.set_summary(["networks / path", "training loss", "training accuracy", f"loss rise at {fmt(r)}",
                            f"width within +{fmt(s['width rise'])}", "barrier"], rows)
        report.section("Sharp and flat minima")
        report.table(["seed", f"{b8}: loss", f"{b8}: rise at {fmt(r)}", "full batch: loss", f"full: rise at {fmt(r)}"],
                     [[k, float(sm["loss"][k]), float(sm["rise"][k].mean()), float(fb["loss"][k]),
                       float(fb["rise"][k].mean())] for k in range(S)],
                     caption=f"Rise: mean over {D} filter-normalized directions of the loss at +-{fmt(r)} minus the "
                             "loss at the trained network.")
        report.figure("slices_1d.png", _draw_1d(sm, fb, b8), "Loss along filter-normalized random directions "
                      "(mean over seeds and directions, band: lowest to highest).")
        report.figure("slices_2d.png", _draw_2d(sm, fb, b8), "Loss on a plane of two filter-normalized directions "
                      "through the first network of each batch size (same contour levels).", size=(7.2, 3.4))
        report.section("Mode connectivity")
        report.table(["pair of seeds", "barrier, not aligned", "aligned on weights", "aligned on activations"],
                     [[f"{a} - {b}", float(bar["raw"][i]), float(bar["weights"][i]), float(bar["activations"][i])]
                      for i, (a, b) in enumerate(p["pairs"])],
                     caption="Barrier: the largest rise of the loss along the straight line above the line between "
                             "the two ends.")
        report.figure("paths.png", _draw_paths(p), "Loss along the straight line between two networks, before and "
                      "after aligning the hidden units (mean over pairs, band: lowest to highest).")


def _band(ax, xs, rows, label, **kw):
    rows = np.atleast_2d(rows)
    line = ax.plot(xs, rows.mean(axis=0), label=label, **kw)[0]
    ax.fill_between(xs, rows.min(axis=0), rows.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)


def _draw_1d(sm, fb, b8):
    def draw(fig):
        ax = fig.add_subplot()
        for d, label in ((sm, b8), (fb, "full batch")):
            _band(ax, d["alphas"], d["slices"].reshape(-1, d["slices"].shape[-1]), label)
        ax.set_xlabel("step along a filter-normalized direction")
        ax.set_ylabel("training loss")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    return draw


def _draw_2d(sm, fb, b8):
    def draw(fig):
        axes = fig.subplots(1, 2, sharey=True)
        hi = float(np.percentile(np.concatenate([sm["plane"].ravel(), fb["plane"].ravel()]), 95))
        lo = float(min(sm["plane"].min(), fb["plane"].min()))
        levels = np.linspace(lo, hi, 12)
        for ax, d, label in zip(axes, (sm, fb), (b8, "full batch")):
            g = d["plane_axis"]
            cs = ax.contourf(g, g, np.minimum(d["plane"], hi).T, levels=levels, cmap="viridis")
            ax.plot(0, 0, "w+", ms=8)
            ax.set_title(label, fontsize="small")
            ax.set_xlabel("direction 1")
        axes[0].set_ylabel("direction 2")
        fig.colorbar(cs, ax=axes, label="training loss")
    return draw


def _draw_paths(p):
    def draw(fig):
        ax = fig.add_subplot()
        for key, label in (("raw", "not aligned"), ("weights", "aligned on weights"),
                           ("activations", "aligned on activations")):
            _band(ax, p["ts"], p[key], label)
        ax.set_xlabel("t  (network A at 0, network B at 1)")
        ax.set_ylabel("training loss")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    return draw


__all__ = ["LossLandscape"]
