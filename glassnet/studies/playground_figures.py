"""Figures of study ``playground-exercises``: one per exercise, readable without the text.

Each function returns a ``draw(fig)`` for :meth:`~glassnet.studies.report.Report.figure`; every
axis is labelled, legends sit outside the data (beside the axes or below them), and curves that
could coincide get their own panel or their own marker. matplotlib is imported only when drawing.
"""

from __future__ import annotations

import numpy as np

BATCH_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def _legend_right(ax, **kw):
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


def lr_test_loss(v: dict, d: dict, seeds: int, worse: float):
    """Test loss against the learning rate: a dot per seed, a line through the means, the
    ``worse`` x best level dashed; diverged seeds as crosses on the top edge."""

    def draw(fig):
        ax = fig.subplots()
        lrs = np.asarray(v["lrs"], dtype=float)
        tl = np.asarray(d["test_loss"], dtype=float)
        status = np.asarray(d["status"])
        ok = status != "diverged"
        finite = tl[ok & np.isfinite(tl)]
        top = float(finite.max()) * 1.6 if finite.size else 1.0
        for j in range(tl.shape[1]):  # small horizontal offsets keep equal seeds apart
            x = lrs * (1 + 0.06 * (j - (tl.shape[1] - 1) / 2))
            good = ok[:, j] & np.isfinite(tl[:, j])
            ax.plot(x[good], tl[good, j], "o", ms=4, color="tab:blue", alpha=0.6,
                    label="one seed" if j == 0 else None)
            ax.plot(x[~good], np.full((~good).sum(), top), "x", ms=7, color="tab:red",
                    label="diverged seed" if j == 0 and (~good).any() else None)
        ax.plot(lrs, v["test_loss"], "-", color="black", lw=1.2, label="mean over seeds")
        if v["best"] is not None:
            ax.axhline(worse * v["test_loss"][v["best"]], color="grey", ls="--", lw=1,
                       label=f"{worse:g}x the best mean")
            ax.plot(lrs[v["best"]], v["test_loss"][v["best"]], "*", ms=14, mfc="none", mec="darkorange", mew=1.5,
                    label="best rate (mean)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("test loss (BCE) after the run")
        ax.set_title(f"learning rate sweep, {seeds} seeds per rate", fontsize="medium")
        ax.grid(alpha=0.3, which="both")
        _legend_right(ax)

    return draw


def lr_curves(steps, loss, lrs, best):
    """One panel per learning rate: each seed's full-training-set loss; the best rate's mean as a
    grey dashed reference in every panel."""

    def draw(fig):
        n = len(lrs)
        cols = 3
        rows = -(-n // cols)
        axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
        ref = np.nanmean(loss[best], axis=0) if best is not None else None
        for c in range(rows * cols):
            ax = axes.flat[c]
            if c >= n:
                ax.set_visible(False)
                continue
            for row in loss[c]:
                ax.plot(steps, row, lw=0.8, color="tab:blue", alpha=0.7)
            if ref is not None and c != best:
                ax.plot(steps, ref, color="grey", ls="--", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"lr = {lrs[c]:g}" + (" (best)" if c == best else ""), fontsize="small")
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize="x-small")
        for ax in axes[-1]:
            ax.set_xlabel("training step", fontsize="small")
        for ax in axes[:, 0]:
            ax.set_ylabel("training loss (full set)", fontsize="x-small")
        if best is not None:
            fig.suptitle(f"blue: each seed; grey dashes: the mean of the best rate (lr = {lrs[best]:g})",
                         fontsize="small")

    return draw


def batch_size(d: dict, n: dict, s: dict):
    """Rows: equal epochs (loss against epochs) and equal updates (loss against updates); one
    panel per batch size (its seeds; the other sizes' means in grey for reference), and the noise
    around the trend per seed and batch size in the last column."""

    def draw(fig):
        bs = list(d["epochs"])
        axes = fig.subplots(2, len(bs) + 1, squeeze=False)
        for row, (budget, xlabel, title) in enumerate((
                ("epochs", "epoch", f"equal epochs ({s['batch epochs']})"),
                ("updates", "update (step)", f"equal updates ({s['batch updates']:,})"))):
            xs = {}
            for b in bs:
                r = d[budget][b]
                x = np.asarray(r["steps"], dtype=float)
                xs[b] = x / r["per_epoch"] if budget == "epochs" else x
            for i, b in enumerate(bs):
                ax = axes[row, i]
                for other in bs:
                    if other != b:
                        ax.plot(xs[other], np.nanmean(d[budget][other]["loss"], axis=0), color="lightgrey", lw=1.2)
                for curve in d[budget][b]["loss"]:
                    ax.plot(xs[b], curve, lw=0.8, color=BATCH_COLORS[i % 5])
                ax.set_yscale("log")
                ax.set_title(f"batch {b}, {title}", fontsize="x-small")
                ax.set_xlabel(xlabel, fontsize="x-small")
                ax.tick_params(labelsize="xx-small")
                ax.grid(alpha=0.3, which="both")
            axes[row, 0].set_ylabel("training loss (full set)", fontsize="x-small")
            for ax in axes[row, 1:len(bs)]:
                ax.sharey(axes[row, 0])
            ax = axes[row, -1]
            for i, b in enumerate(bs):
                per_seed = np.asarray(n[budget][b]["noise_seeds"])
                ax.bar(i, n[budget][b]["noise"], 0.6, color=BATCH_COLORS[i % 5], alpha=0.35, edgecolor="black", lw=0.5)
                ax.plot(np.full(per_seed.size, i), per_seed, "o", ms=3, color="black")
            ax.set_xticks(range(len(bs)), [str(b) for b in bs], fontsize="x-small")
            ax.set_xlabel("batch size", fontsize="x-small")
            ax.set_yscale("log")
            ax.set_ylabel("noise around trend (log units)", fontsize="x-small")
            ax.set_title(f"noise, {title}", fontsize="x-small")
            ax.tick_params(labelsize="xx-small")
            ax.grid(alpha=0.3, axis="y", which="both")
        fig.suptitle("thin lines: each seed; grey: the other batch sizes' means; bars: mean noise, dots: seeds",
                     fontsize="x-small")

    return draw


def linear_collapse(d: dict):
    """The network's output against the collapsed map's, and each seed's distance from the
    least-squares weights."""

    def draw(fig):
        a, b = fig.subplots(1, 2)
        net, one = np.asarray(d["net_out"]), np.asarray(d["collapsed_out"])
        a.plot(one.ravel(), net.ravel(), ".", ms=3, alpha=0.5, color="tab:blue", label="test point (every seed)")
        lim = [float(min(one.min(), net.min())), float(max(one.max(), net.max()))]
        a.plot(lim, lim, color="grey", lw=1, ls="--", label="y = x")
        a.set_xlabel("x W + b (the collapsed matrix)")
        a.set_ylabel("network output (three layers)")
        a.set_title(f"max difference {np.max(np.abs(net - one)):.1e}", fontsize="small")
        a.grid(alpha=0.3)
        a.legend(fontsize="x-small", loc="upper left")
        dist = np.max(np.abs(np.asarray(d["W"]) - np.asarray(d["lstsq_W"])), axis=1)
        seeds = np.arange(len(dist))
        b.semilogy(seeds, np.maximum(dist, 1e-17), "o", color="tab:blue")
        b.axhline(0.05, color="grey", ls="--", lw=1)
        b.set_xticks(seeds)
        b.set_xlabel("seed")
        b.set_ylabel("max |W - W_least squares|")
        b.set_title("distance from linear regression", fontsize="small")
        b.grid(alpha=0.3, which="both")

    return draw


def regression(d: dict, acts, r2: dict):
    """Test points coloured by the target and by each network's prediction (seed 0), one
    colour scale, a labelled colorbar."""

    def draw(fig):
        x = np.asarray(d["x"])
        panels = [("target", np.asarray(d["y"]))] + [(f"{a}: R^2 {r2[a]:.2f}", np.asarray(d[a]["pred"])[0])
                                                     for a in acts]
        axes = fig.subplots(1, len(panels), sharex=True, sharey=True)
        sc = None
        for ax, (title, values) in zip(axes, panels):
            sc = ax.scatter(x[:, 0], x[:, 1], c=values, s=9, cmap="RdBu_r", vmin=-1, vmax=1)
            ax.set_title(title, fontsize="small")
            ax.set_xlabel("x1 (standardized)", fontsize="small")
            ax.set_aspect("equal")
            ax.tick_params(labelsize="x-small")
        axes[0].set_ylabel("x2 (standardized)", fontsize="small")
        fig.colorbar(sc, ax=list(axes), label="y: target / prediction", shrink=0.9)

    return draw


def xor(d: dict, keys, acc: dict):
    """P(class 1) over the raw (x1, x2) plane for each model (seed 0), test points on top."""

    def draw(fig):
        g = np.asarray(d["grid"])
        pts, lab = np.asarray(d["test_x"]), np.asarray(d["test_y"]).ravel()
        axes = fig.subplots(1, len(keys), sharex=True, sharey=True)
        im = None
        for ax, k in zip(axes, keys):
            im = ax.pcolormesh(g, g, np.asarray(d[k]["grid_p"])[0], cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
            for cls, marker, face in ((0, "o", "white"), (1, "^", "black")):
                sel = lab == cls
                ax.scatter(pts[sel, 0], pts[sel, 1], s=8, marker=marker, facecolors=face, edgecolors="black", lw=0.4,
                           label=f"test point, class {cls}")
            ax.set_title(f"{k}\n{d[k]['params']} parameters, {100 * acc[k]:.1f}% test accuracy", fontsize="x-small")
            ax.set_xlabel("x1", fontsize="small")
            ax.set_aspect("equal")
            ax.tick_params(labelsize="x-small")
        axes[0].set_ylabel("x2", fontsize="small")
        fig.colorbar(im, ax=list(axes), label="predicted P(class 1)", shrink=0.9)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="x-small")

    return draw
