"""Figures of study ``image-classifier``: curves on an epoch axis (labelled so), mini-batch vs
batch 1 against images seen, and the CNNs on the test set preprocessed like the training set and
differently. Each returns what :meth:`~glassnet.studies.report.Report.figure` draws; matplotlib
is imported only when a figure is drawn."""

from __future__ import annotations

import numpy as np


def epoch_curves(groups: dict, metric: str, title: str = "", hline: float | None = None):
    """A figure factory: :func:`glassnet.plots.curves_figure` of ``{label: (epochs (T,), curves (S, T))}``
    with the x axis labelled "epoch" (the curves are logged once per epoch)."""

    def make():
        from .. import plots  # noqa: PLC0415 - matplotlib only when drawing

        series = {str(k): [(np.asarray(e, float), np.asarray(row, float)) for row in np.atleast_2d(v)]
                  for k, (e, v) in groups.items()}
        fig = plots.curves_figure(series, metric=metric, title=title, logy=False)
        styles = ["-", "--", "-.", ":"]
        markers = ["o", "s", "^", "v", "D", "x"]
        for ax in fig.axes:
            # curves that end up on top of each other stay told apart: line style and markers
            for i, line in enumerate(ax.get_lines()):
                n = len(line.get_xdata())
                line.set_linestyle(styles[i % len(styles)])
                line.set_marker(markers[i % len(markers)])
                line.set_markersize(3.5)
                line.set_markevery((i % 4 * max(1, n // 40), max(1, n // 10)))
            ax.set_xlabel("epoch")
            if hline is not None:
                ax.axhline(hline, color="grey", ls=":", lw=1)
            legend = ax.get_legend()
            if legend is not None:  # beside the curves, never over them
                legend.remove()
        fig.legend(loc="outside right center", fontsize=7)
        return fig

    make.is_factory = True
    return make


def sgd_figure(mb: dict, one: dict, n_train: int):
    """Test loss against images seen (in epochs) for batch 64 and batch 1, one line per seed."""

    def draw(fig):
        ax = fig.add_subplot()
        for r, label, color in ((mb, "batch 64", "tab:blue"), (one, "batch 1", "tab:orange")):
            for i, row in enumerate(np.atleast_2d(r["val_loss"])):
                ax.plot(r["epochs"], row, color=color, lw=1.0, alpha=0.8, label=label if i == 0 else None)
        ax.set_xlabel(f"epoch (images seen / {n_train:,})")
        ax.set_ylabel("test loss")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="upper right", fontsize="small")
        ax.set_title("evaluated every 64 images seen, one line per seed", fontsize="small")

    return draw


def cnn_figure(cnn: dict, dense: dict, dense_name: str, chance: float):
    """Two panels on an epoch axis: test accuracy with the test set preprocessed like the
    training set (left) and differently (right); the CNNs and the best dense model, mean of seeds."""

    def draw(fig):
        left, right = fig.subplots(1, 2, sharey=True, sharex=True)
        runs = [(f"CNN, {n}", r) for n, r in cnn.items()] + [(f"dense, {dense_name}", dense)]
        colors = ["tab:red", "tab:purple", "tab:grey"]
        for (label, r), color in zip(runs, colors):
            left.plot(r["epochs"], np.nanmean(r["val_accuracy"], axis=0), color=color, lw=1.6, label=label)
            right.plot(r["epochs"], np.nanmean(r["mismatch_accuracy"], axis=0), color=color, lw=1.6, ls="--")
        for ax, title in ((left, "test set preprocessed like the training set"),
                          (right, "the same test set preprocessed differently")):
            ax.axhline(chance, color="black", ls=":", lw=1)
            ax.set_xlabel("epoch")
            ax.set_title(title, fontsize="small")
            ax.grid(alpha=0.3)
        left.set_ylabel("test accuracy (mean of seeds)")
        fig.legend(loc="outside lower center", ncols=3, fontsize="x-small")

    return draw


__all__ = ["epoch_curves", "sgd_figure", "cnn_figure"]
