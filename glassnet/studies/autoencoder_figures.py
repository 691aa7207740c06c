"""Figures of study ``autoencoder-838`` that the generic curve figure cannot draw readably.

* :func:`small_multiples`: one panel per setting, so curves that coincide (weight decay 0.01
  and 0.1 both sit on the constant-output loss) are never hidden under each other;
* :func:`lr_collapse`: loss against the step and against ``lr x step`` side by side: if the
  curves of every rate fall on one another on the right, a larger rate only walks the same path
  in fewer steps;
* :func:`weights_heatmaps`: hidden and output weights with their biases, integer unit ticks and
  a labelled colorbar (seed 003, Figures 2, 8 and 11-13).

Each returns a ``draw(fig)`` function for :meth:`~glassnet.studies.report.Report.figure`;
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import numpy as np


def _steps_axis(ax) -> None:
    """Step ticks that fit a narrow panel: 0, 200k, 400k (3 ticks at most)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _: f"{v / 1e6:g}M" if abs(v) >= 1e6 else f"{v / 1e3:g}k" if abs(v) >= 1e3 else f"{v:g}"))


def _log_scale(ax, which: str, values) -> None:
    """A log scale on ``ax``'s ``which`` axis ("x" or "y") for ``values``; minor ticks only when
    they span at most 3 decades. Beyond that matplotlib leaves the minor ticks unlabelled, and
    making their tick objects was half of a loss-curve figure's drawing time (autoencoder-838's
    weight decay figure: 1.28 s of CPU, 0.68 s without them)."""
    from matplotlib.ticker import NullLocator  # noqa: PLC0415

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    vals = np.asarray(values, dtype=float).ravel()
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size and np.log10(vals.max() / vals.min()) > 3:
        (ax.xaxis if which == "x" else ax.yaxis).set_minor_locator(NullLocator())


def _log_ok(*arrays) -> bool:
    vals = np.concatenate([np.ravel(a) for a in arrays])
    vals = vals[np.isfinite(vals)]
    return vals.size > 0 and vals.min() > 0


def small_multiples(steps, panels: dict, hline: float | None = None, ylabel: str = "loss",
                    hline_label: str = ""):
    """``panels``: ``{title: curves (S, T)}``; one panel each (shared axes), thin line per seed,
    thick line for the mean, dotted ``hline`` in every panel."""

    def draw(fig):
        n = len(panels)
        axes = fig.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
        logy = _log_ok(*panels.values())
        for ax, (title, curves) in zip(axes, panels.items()):
            curves = np.atleast_2d(np.asarray(curves, dtype=float))
            for row in curves:
                ax.plot(steps, row, color="tab:blue", lw=0.7, alpha=0.45)
            ax.plot(steps, np.nanmean(curves, axis=0), color="tab:blue", lw=1.6)
            if hline is not None:
                ax.axhline(hline, color="grey", ls=":", lw=1.2)
            ax.set_title(title, fontsize="small")
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize="x-small")
            ax.set_xlabel("step", fontsize="small")
            _steps_axis(ax)
            if logy:
                _log_scale(ax, "y", np.concatenate([np.ravel(v) for v in panels.values()]))
        axes[0].set_ylabel(ylabel, fontsize="small")
        if hline is not None and hline_label:
            fig.suptitle(f"thin: each seed, thick: mean; dotted: {hline_label}", fontsize="small")

    return draw


def lr_collapse(steps, rates, curves, threshold: float | None = None):
    """Mean loss per learning rate against the step (log axis) and against ``lr x step``.

    ``curves``: ``(C, S, T)`` for ``rates`` ``(C,)`` on the shared ``steps``."""

    def draw(fig):
        import matplotlib  # noqa: PLC0415

        cmap = matplotlib.colormaps["viridis"]
        left, right = fig.subplots(1, 2, sharey=True)
        steps_ = np.asarray(steps, dtype=float)
        for c, lr in enumerate(rates):
            mean = np.nanmean(np.asarray(curves[c], dtype=float), axis=0)
            color = cmap(c / max(len(rates) - 1, 1))
            left.plot(steps_, mean, color=color, lw=1.4, label=f"lr {lr:g}")
            right.plot(lr * steps_, mean, color=color, lw=1.4)
        means = np.nanmean(np.asarray(curves, dtype=float), axis=1)
        for ax, x in ((left, steps_), (right, np.outer(rates, steps_))):
            _log_scale(ax, "x", x)
            _log_scale(ax, "y", means)
            ax.grid(alpha=0.3, which="both")
            if threshold is not None:
                ax.axhline(threshold, color="grey", ls=":", lw=1)
        left.set_xlabel("training step")
        right.set_xlabel("lr x training step (distance along the gradient flow)")
        left.set_ylabel("reconstruction loss (mean of seeds)")
        left.set_title("against steps", fontsize="small")
        right.set_title("against lr x steps: one path, walked at different speeds?", fontsize="small")
        fig.legend(loc="outside right center", fontsize="x-small", title="rate", title_fontsize="x-small")

    return draw


def weights_heatmaps(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                     vmax: float | None = None, label: str = "weight / bias value", title: str = ""):
    """One row per network: its hidden layer (units x inputs, bias column ``b``) and its output
    layer (hidden units x outputs, bias row ``b``).

    ``panels``: ``[(title, W1 (n_in, H), b1 (H,), W2 (H, n_out), b2 (n_out,)), ...]``. One
    symmetric colour scale for all (``vmax``: its end; default the largest magnitude shown); a
    black line separates the biases from the weights."""

    def draw(fig):
        mats = []
        for name, W1, b1, W2, b2 in panels:
            hidden = np.concatenate([np.asarray(W1).T, np.asarray(b1)[:, None]], axis=1)   # (H, n_in + 1)
            output = np.concatenate([np.asarray(W2), np.asarray(b2)[None, :]], axis=0)     # (H + 1, n_out)
            mats.append((name, hidden, output))
        top = vmax if vmax is not None else max(float(np.abs(m).max()) for _, h, o in mats for m in (h, o))
        top = top or 1.0
        axes = fig.subplots(len(mats), 2, squeeze=False, gridspec_kw={"width_ratios": [1, 1]})
        im = None
        for row, (name, hidden, output) in zip(axes, mats):
            H, n_in = hidden.shape[0], hidden.shape[1] - 1
            n_out = output.shape[1]
            im = row[0].imshow(hidden, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto")
            row[0].set_xticks(range(n_in + 1), [str(i + 1) for i in range(n_in)] + ["b"])
            row[0].set_yticks(range(H), [str(j + 1) for j in range(H)])
            row[0].set_xlabel("input (b: bias)", fontsize="x-small")
            row[0].set_ylabel("hidden unit", fontsize="x-small")
            row[0].set_title(f"{name}: hidden layer", fontsize="x-small")
            row[1].imshow(output, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto")
            row[1].set_xticks(range(n_out), [str(i + 1) for i in range(n_out)])
            row[1].set_yticks(range(H + 1), [str(j + 1) for j in range(H)] + ["b"])
            row[1].set_xlabel("output", fontsize="x-small")
            row[1].set_ylabel("hidden unit (b: bias)", fontsize="x-small")
            row[1].set_title(f"{name}: output layer", fontsize="x-small")
            row[0].axvline(n_in - 0.5, color="black", lw=1.2)
            row[1].axhline(H - 0.5, color="black", lw=1.2)
            for ax in row:
                ax.tick_params(labelsize="x-small", length=2)
        bar = fig.colorbar(im, ax=list(axes.ravel()), shrink=0.9)
        bar.set_label(label, fontsize="small")
        bar.ax.tick_params(labelsize="x-small")
        if title:
            fig.suptitle(title, fontsize="small")

    return draw


__all__ = ["small_multiples", "lr_collapse", "weights_heatmaps"]
