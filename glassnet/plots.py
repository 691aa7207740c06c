"""Figures of runs and sweeps (matplotlib, Agg canvas, PNG or SVG).

* :func:`curves_figure` -- a metric against training steps, one line per swept value: the mean
  over seeds with a band from the lowest to the highest seed, legend naming the values
  (seed 003's figures 4, 7, 9 and 10). The y axis is logarithmic when the curves span more than
  ~1.5 decades; the x axis on request.
* :func:`weights_figure` -- heatmaps of every dense layer's weights, biases as the last row,
  values written in the cells when they fit (seed 003's figures 8 and 11-13).
* :func:`sweep_figures` / :func:`run_figures` -- the set written by ``glassnet plot``. A run
  whose weights file is missing or damaged is reported (``on_problem``) and left out; the rest
  are drawn.

Figures are written to a temporary name in their folder and renamed into place; a folder that
cannot be written is one :class:`~glassnet.errors.GlassnetError` line.

Only matplotlib's object API is used (``Figure`` + ``FigureCanvasAgg``), never ``pyplot``: no
global state, no window, safe in workers and servers.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .errors import GlassnetError

FORMATS = ("png", "svg")
#: short axis/legend names for common key paths
NICE = {"training.weight_decay": "λ", "training.optimizer.lr": "lr", "training.batch_size": "batch size",
        "data.options.encoding": "encoding", "data.encoding": "encoding", "training.l1": "L1",
        "training.optimizer.momentum": "momentum", "model.hidden": "hidden"}
METRIC_LABEL = {"loss": "loss (objective, on each step's batch)", "train_loss": "data loss on the whole training set", "data_loss": "data loss", "accuracy": "accuracy (training set)",
                "val_loss": "validation loss", "val_accuracy": "validation accuracy", "penalty": "penalty"}


def _figure(w=7.5, h=4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, fmt: str = "png") -> Path:
    """Write ``fig`` as ``path.<fmt>`` (``png`` at 150 dpi, or ``svg``)."""
    if fmt not in FORMATS:
        raise GlassnetError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path).with_suffix(f".{fmt}")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp.{fmt}", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=150)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise GlassnetError(f"cannot write the figure {str(path)!r}: {exc.strerror or exc}"
                            + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")) from None
    return path


def nice(path: str) -> str:
    return NICE.get(path, path.rsplit(".", 1)[-1])


def label_of(params: dict, swept: list[str]) -> str:
    """Legend text for one sweep point, e.g. ``λ = 0.001`` or ``lr = 0.5, batch size = 8``."""
    parts = [f"{nice(k)} = {_fmt(params.get(k))}" for k in swept]
    return ", ".join(parts) or "run"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _sort_key(params: dict, swept: list[str]):
    out = []
    for k in swept:
        v = params.get(k)
        out.append((0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v)))
    return tuple(out)


def mean_band(series: list[tuple[np.ndarray, np.ndarray]]):
    """Align curves of several seeds on the longest step axis (shorter ones -- diverged or
    stopped -- padded with NaN) and return ``steps, mean, low, high`` over the seeds."""
    longest = max(series, key=lambda s: len(s[0]))[0]
    stack = np.full((len(series), len(longest)), np.nan)
    for i, (steps, values) in enumerate(series):
        idx = np.searchsorted(longest, steps)
        ok = (idx < len(longest)) & (longest[np.minimum(idx, len(longest) - 1)] == steps)
        stack[i, idx[ok]] = values[ok]
    stack[~np.isfinite(stack)] = np.nan
    with warnings.catch_warnings():  # all-NaN columns (every seed diverged) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        return longest, np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)


def curves_figure(panels: dict, metric: str = "loss", title: str = "", logy: bool | None = None,
                  logx: bool = False, legend_title: str = ""):
    """One line (mean over seeds) and band (min..max over seeds) per group, one panel per key.

    Parameters
    ----------
    panels : ``{panel title: {legend label: [(steps (T,), values (T,)), ...]}}`` -- one pair per
        seed, legends in order; or a single ``{legend label: [...]}`` (one panel).
    metric : the curve's name (axis label).
    logy : log-scale y; ``None`` decides from the data (positive values spanning > 1.5 decades).
    """
    import matplotlib  # noqa: PLC0415

    if panels and isinstance(next(iter(panels.values())), list):
        panels = {"": panels}
    fig = _figure(4.2 + 3.8 * min(len(panels), 3) if len(panels) > 1 else 7.5, 4.8)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    lows, highs, seeds = [], [], 1
    for ax, (panel, groups) in zip(axes, panels.items()):
        many = len(groups) > 10
        cmap = matplotlib.colormaps["viridis" if many else "tab10"]
        for i, (label, series) in enumerate(groups.items()):
            steps, mean, low, high = mean_band(series)
            color = cmap(i / max(len(groups) - 1, 1)) if many else cmap(i % 10)
            ax.plot(steps, mean, color=color, lw=1.6, label=label)
            if len(series) > 1:
                ax.fill_between(steps, low, high, color=color, alpha=0.18, lw=0)
            seeds = max(seeds, len(series))
            if np.isfinite(low).any():
                lows.append(np.nanmin(low))
                highs.append(np.nanmax(high))
        ax.set_xlabel("training step")
        ax.set_title(panel, fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
        if logx:
            ax.set_xscale("symlog", linthresh=max(1.0, float(ax.get_xlim()[1]) * 1e-4))
        if groups:
            ax.legend(title=legend_title or None, fontsize=8, title_fontsize=8, loc="best")
    lo, hi = (min(lows), max(highs)) if lows else (np.nan, np.nan)
    if logy is None:
        logy = "accuracy" not in metric and np.isfinite(lo) and lo > 0 and math.log10(hi / lo) > 1.5
    if logy:
        axes[0].set_yscale("log")
    axes[0].set_ylabel(METRIC_LABEL.get(metric, metric))
    sub = f"mean of {seeds} seeds, band: lowest to highest seed" if seeds > 1 else ""
    fig.suptitle(title + (f"\n{sub}" if sub else ""), fontsize=10)
    return fig


def weights_figure(models, labels=None, title: str = ""):
    """Heatmaps of each dense kernel W (inputs x units) with the bias as an extra last row: one
    column per dense layer, one row per model (``models``: a Sequential or a list of them)."""
    models = models if isinstance(models, (list, tuple)) else [models]
    labels = labels or [""] * len(models)
    n_layers = max(sum("W" in l.params for l in m.layers) for m in models)
    if n_layers == 0:
        raise GlassnetError("the model has no dense layers to draw")
    small = len(models) > 2
    fig = _figure(3.2 * n_layers + 1.0, (2.6 if small else 4.2) * len(models) + 0.4)
    grid = fig.subplots(len(models), n_layers, squeeze=False)
    for row, (model, label) in zip(grid, zip(models, labels)):
        dense = [l for l in model.layers if "W" in l.params]
        for ax, layer in zip(row, dense):
            _heatmap(fig, ax, layer, annotate=not small)
            ax.set_title(f"{label}: {layer.name}" if label else layer.name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _heatmap(fig, ax, layer, annotate: bool):
    w = np.asarray(layer.params["W"].value[0], np.float64)
    rows = [f"in {i + 1}" for i in range(w.shape[0])]
    if "b" in layer.params:
        w = np.vstack([w, np.asarray(layer.params["b"].value[0], np.float64)[None]])
        rows.append("bias")
    vmax = float(np.nanmax(np.abs(w))) if np.isfinite(w).any() else 1.0
    im = ax.imshow(w, cmap="RdBu_r", vmin=-(vmax or 1.0), vmax=vmax or 1.0, aspect="auto")
    if annotate and w.size <= 120:
        for (i, j), v in np.ndenumerate(w):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(v) > 0.6 * vmax else "black")
    ax.set_yticks(range(len(rows)), rows, fontsize=6)
    ax.set_xticks(range(w.shape[1]), [f"{j + 1}" for j in range(w.shape[1])], fontsize=6)
    ax.set_xlabel("unit", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)


# ------------------------------------------------------------------------- from the run store
def _metrics_of(store, runs) -> list[str]:
    names: list[str] = []
    for r in runs[:50]:
        for k in store.curves(r["id"]):
            if k not in names:
                names.append(k)
    order = ["loss", "train_loss", "accuracy", "val_loss", "val_accuracy"]
    return [m for m in order if m in names]


def sweep_groups(store, runs, swept, metric):
    """``{label: [(steps, values) per seed]}`` for one metric, groups in sorted sweep order."""
    by: dict[str, list] = {}
    keys: dict[str, tuple] = {}
    for r in runs:
        c = store.curves(r["id"]).get(metric)
        if c is None or not len(c[0]):
            continue
        label = label_of(r["params"] or {}, swept)
        by.setdefault(label, []).append(c)
        keys[label] = _sort_key(r["params"] or {}, swept)
    return {k: by[k] for k in sorted(by, key=lambda k: keys[k])}


def sweep_panels(store, runs, swept, metric, max_panels: int = 6) -> dict:
    """Two or more swept keys: one panel per value of the first, lines for the rest (when the
    panels are few); otherwise one panel."""
    if len(swept) < 2:
        return {"": sweep_groups(store, runs, swept, metric)}
    first = swept[0]
    values = sorted({json_key(r["params"].get(first)) for r in runs})
    if len(values) > max_panels:
        return {"": sweep_groups(store, runs, swept, metric)}
    panels = {}
    ordered = sorted(runs, key=lambda r: _sort_key(r["params"], swept))
    for r in ordered:
        panels.setdefault(label_of(r["params"], [first]), [])
    for title in panels:
        members = [r for r in runs if label_of(r["params"], [first]) == title]
        panels[title] = sweep_groups(store, members, swept[1:], metric)
    return panels


def json_key(v) -> str:
    import json  # noqa: PLC0415

    return json.dumps(v, sort_keys=True)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _load_weights(store, run, on_problem):
    """The run's model, or ``None`` (reported through ``on_problem``) when its weights file is
    missing or damaged; ``None`` silently when the run has no weights (failed, recorded)."""
    from .network import Network  # noqa: PLC0415

    if not run.get("weights"):
        return None
    problem = store.weights_problem(run)
    if problem is None:
        try:
            return Network.load(store.root / run["weights"])
        except GlassnetError as exc:
            problem = str(exc)
    (on_problem or _warn)(f"run {run['id']}: {problem}; its weights are not drawn "
                          "(training its config again replaces the file)")
    return None


def sweep_figures(store, sweep_id: str, out_dir, fmt: str = "png", logx: bool = False,
                  metrics=None, max_weight_rows: int = 6, on_problem=None) -> list[Path]:
    """Curves of every metric overlaid by the swept values, and one figure of weight heatmaps
    (the first seed of up to ``max_weight_rows`` sweep points whose weights load); returns the
    written paths. A run whose weights file is missing or damaged is passed to ``on_problem``
    (one line; default: a warning) and the next seed of its point is drawn instead."""
    sweep = store.sweep(sweep_id)
    runs = [r for r in store.runs(sweep_id) if r["status"] not in ("pending", "running")]
    if not runs:
        raise GlassnetError(f"sweep {sweep_id} has no finished runs to plot yet")
    for r in runs:
        r["params"] = r["params"] or {}
    swept = sweep["swept"] or []
    out = Path(out_dir)
    paths = []
    for metric in metrics or _metrics_of(store, runs):
        panels = sweep_panels(store, runs, swept, metric)
        if any(panels.values()):
            title = f"{sweep['name']}: {METRIC_LABEL.get(metric, metric)}"
            legend = ", ".join(nice(k) for k in (swept[1:] if len(panels) > 1 else swept))
            fig = curves_figure(panels, metric, title, logx=logx, legend_title=legend)
            paths.append(save(fig, out / f"{sweep_id}_{metric}", fmt))
    points: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (_sort_key(r["params"], swept), r["seed"])):
        if r.get("weights"):
            points.setdefault(label_of(r["params"], swept), []).append(r)
    labels = list(points)
    if len(labels) > max_weight_rows:
        idx = np.unique(np.linspace(0, len(labels) - 1, max_weight_rows).round().astype(int))
        labels = [labels[i] for i in idx]
    models, names = [], []
    for label in labels:
        for r in points[label]:  # the first seed whose weights load
            model = _load_weights(store, r, on_problem)
            if model is not None:
                models.append(model)
                names.append(f"{label} (seed {r['seed']})")
                break
    if models:
        fig = weights_figure(models, names, f"{sweep['name']}: weights after training")
        paths.append(save(fig, out / f"{sweep_id}_weights", fmt))
    return paths


def run_figures(store, run_id: str, out_dir, fmt: str = "png", logx: bool = False,
                on_problem=None) -> list[Path]:
    """Every curve of one run and its weight heatmaps (a missing or damaged weights file goes to
    ``on_problem``, default a warning, and the curves are still drawn)."""
    run = store.run(run_id)
    curves = store.curves(run_id)
    out = Path(out_dir)
    paths = []
    label = label_of(run["params"] or {}, list(run["params"] or {})) if run["params"] else "base config"
    for metric in [m for m in ("loss", "train_loss", "accuracy", "val_loss", "val_accuracy") if m in curves]:
        fig = curves_figure({f"seed {run['seed']}": [curves[metric]]}, metric,
                            f"run {run_id} ({label}): {METRIC_LABEL.get(metric, metric)}", logx=logx)
        paths.append(save(fig, out / f"{run_id}_{metric}", fmt))
    model = _load_weights(store, run, on_problem)
    if model is not None:
        paths.append(save(weights_figure(model, title=f"run {run_id}: {label}, seed {run['seed']}"),
                          out / f"{run_id}_weights", fmt))
    return paths


# ------------------------------------------------------------------ sequences and depth (issue 13)
def _legend_outside(ax, title: str = "") -> None:
    """The legend beside the axes, right of the data, so it never hides a curve."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=title or None, fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def attention_figure(weights, keys=None, queries=None, title: str = "", head_titles=None):
    """Heatmaps of attention weights, one panel per head, with a colorbar.

    Parameters
    ----------
    weights : ``(T, S)``, ``(heads, T, S)`` -- e.g. ``layer.attention_weights[m, b]`` of a
        :class:`~glassnet.MultiHeadAttention` (model ``m``, sample ``b``): row t is where query
        step t looks, and sums to 1.
    keys, queries : labels of the key (columns) and query (rows) steps, e.g. the tokens.
    """
    a = np.asarray(weights, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise GlassnetError(f"attention weights must be (steps, steps) or (heads, steps, steps), got shape {a.shape}")
    heads, T, S = a.shape
    cols = min(heads, 4)
    rows = -(-heads // cols)
    fig = _figure(1.0 + 3.2 * cols, 0.8 + 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    im = None
    for h, ax in enumerate(axes.ravel()):
        if h >= heads:
            ax.set_axis_off()
            continue
        im = ax.imshow(a[h], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_title(head_titles[h] if head_titles else (f"head {h + 1}" if heads > 1 else "attention"), fontsize=9)
        ax.set_xlabel("key step (attended to)", fontsize=8)
        ax.set_ylabel("query step", fontsize=8)
        for labels, set_ticks, n in ((keys, ax.set_xticks, S), (queries, ax.set_yticks, T)):
            if labels is not None and len(labels) == n and n <= 40:
                set_ticks(range(n), [str(v) for v in labels], fontsize=6)
        if T * S <= 100:
            for (i, j), v in np.ndenumerate(a[h]):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="attention weight (each row sums to 1)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def step_gradient_figure(norms, title: str = "", logy: bool = True, relative: bool = False):
    """The gradient reaching each time step, ||dL/dh_t|| against t (a recurrent layer's
    ``step_grad_norms``): how it fades (or grows) going back in time.

    Parameters
    ----------
    norms : ``(T,)`` for one network, ``(S, T)`` for several (mean, band from lowest to highest),
        or ``{label: (T,) or (S, T)}`` for one line per label (legend beside the axes).
    relative : divide each network's curve by its value at the last step (1 at t = T), to compare
        how fast it decays rather than its scale.
    """
    groups = norms if isinstance(norms, dict) else {"": norms}
    fig = _figure(8.0 if len(groups) > 1 or "" not in groups else 6.4, 4.4)
    ax = fig.subplots()
    import matplotlib  # noqa: PLC0415

    cmap = matplotlib.colormaps["tab10"]
    for i, (label, v) in enumerate(groups.items()):
        v = np.atleast_2d(np.asarray(v, dtype=np.float64))
        if relative:
            v = v / v[:, -1:]
        t = np.arange(1, v.shape[1] + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(v, 0), np.nanmin(v, 0), np.nanmax(v, 0)
        ax.plot(t, mean, color=cmap(i % 10), lw=1.6, label=str(label) or None)
        if v.shape[0] > 1:
            ax.fill_between(t, low, high, color=cmap(i % 10), alpha=0.18, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("time step t (the loss is computed after the last step)")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||" if relative else "||dL/dh_t||  (gradient reaching step t)")
    ax.grid(True, which="both", alpha=0.25)
    _legend_outside(ax)
    fig.suptitle(title, fontsize=10)
    return fig


def layer_gradient_figure(norms, title: str = "", logy: bool = True, ylabel: str = "||dL/dW_k||"):
    """A per-layer gradient norm against depth, one line per group (mean over seeds, band from
    the lowest to the highest seed), legend beside the axes.

    ``norms``: ``{label: (S, L)}`` -- S seeds, L layers (layer 1 next to the input); or
    ``{panel title: {label: (S, L)}}`` for one panel per key (shared y axis, legend beside the
    last panel).
    """
    import matplotlib  # noqa: PLC0415

    panels = norms if norms and isinstance(next(iter(norms.values())), dict) else {"": norms}
    fig = _figure(2.0 + 3.6 * len(panels) if len(panels) > 1 else 8.0, 4.4)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    cmap = matplotlib.colormaps["tab10"]
    for ax, (panel, groups) in zip(axes, panels.items()):
        for i, (label, v) in enumerate(groups.items()):
            v = np.atleast_2d(np.asarray(v, dtype=np.float64))
            k = np.arange(1, v.shape[1] + 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(k, np.nanmean(v, 0), color=cmap(i % 10), lw=1.6, marker="o", ms=2.5, label=str(label))
                if v.shape[0] > 1:
                    ax.fill_between(k, np.nanmin(v, 0), np.nanmax(v, 0), color=cmap(i % 10), alpha=0.15, lw=0)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("layer k (1 = next to the input)")
        ax.set_title(panel, fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].set_ylabel(ylabel)
    _legend_outside(axes[-1])
    fig.suptitle(title, fontsize=10)
    return fig
