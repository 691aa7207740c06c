"""glassnet in Jupyter: rich displays, history figures, a live training plot and ``study()``.

Nothing here is imported by ``import glassnet``'s engine path: matplotlib and IPython load only
when a figure is drawn or a notebook display is made, so ``import glassnet`` stays light.

- :func:`summary_html`: a model's summary as an HTML table (``Network._repr_html_``);
- :func:`history_html`, :func:`plot_history`: a :class:`~glassnet.training.History`'s final
  metrics and its curves (``History._repr_html_``, ``History.plot``);
- :class:`LivePlot`: a callback that redraws loss/metric curves during ``fit`` in a notebook;
- :func:`summary_html` also draws the model's graph (:mod:`glassnet.graph_svg`): boxes for
  inputs and layers with their output shapes, arrows for tensors, skip connections around;
- :func:`study`: run a study from Python and get a :class:`~glassnet.studies.StudyResult`
  with ``tables()``/``table(name)`` (its measurements as pandas DataFrames, or dicts of column
  arrays without pandas; :func:`measurement_tables`), which displays its findings, summary,
  tables and figures inline (:func:`study_html`).

>>> import numpy as np, glassnet as gn
>>> model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
...                       input_shape=(8,), seed=[0, 1, 2])
>>> hist = model.fit(np.eye(8), np.eye(8), loss="half_sse", optimizer=gn.SGD(lr=2.0),
...                  batch_size=8, steps=200, callbacks=[gn.notebook.LivePlot()])  # doctest: +SKIP
>>> fig = hist.plot()                                                              # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import sys
import time
from pathlib import Path

import numpy as np

from .callbacks import Callback
from .measurement_tables import MAX_TABLE_CELLS, as_frames, measurement_tables

__all__ = ["LivePlot", "history_html", "in_notebook", "measurement_tables", "plot_curves", "plot_history",
           "study", "study_html", "study_table", "study_tables", "summary_html", "with_tables"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell); never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-initialised IPython is "not a notebook"
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _esc(x) -> str:
    return html.escape(str(x))


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)


def _table(header, rows, caption: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption style='text-align:left'>{_esc(caption)}</caption>" if caption else ""
    return f"<table class='glassnet'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- models -------------------------------------------------------------------------------------

def summary_html(model, graph: bool = True) -> str:
    """The model's summary (layers, output shapes, parameters per network) as an HTML table,
    beside a drawing of its graph (``graph=True``; see :func:`glassnet.graph_svg.graph_svg`).

    Works for :class:`~glassnet.Sequential` (drawn as a chain) and graph
    :class:`~glassnet.Model` alike (the graph form adds a "reads" column naming each layer's
    inputs; its drawing shows branches and skip connections). A model not built yet lists its
    layers without shapes.
    """
    table = _summary_table(model)
    if not graph:
        return table
    from .graph_svg import graph_svg  # noqa: PLC0415

    return ("<div class='glassnet-model' style='display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start'>"
            f"<div>{table}</div><div>{graph_svg(model)}</div></div>")


def _summary_table(model) -> str:
    name = getattr(model, "name", type(model).__name__)
    graph = hasattr(model, "nodes")
    title = f'Model "{name}"' + (" (graph)" if graph else "")
    if getattr(model, "ensemble", False):
        title += f", {model.M} networks on the model axis"
    built = getattr(model, "built", True)
    if not built:
        rows = [(getattr(l, "name", None) or "—", repr(l), "—", "—") for l in model.layers]
        return _table(["layer", "type", "output shape", "params"], rows, title + " (not built yet)")
    header = ["layer", "type", "output shape", "params"] + (["reads"] if graph else [])
    rows = []
    if graph:
        for t in model.inputs:
            rows.append((t.name, "Input", str((None,) + tuple(t.shape)), "0", ""))
        for node in model.nodes:
            l = node.layer
            rows.append((l.name, repr(l), str((None,) + tuple(l.output_shape)), f"{l.param_count():,}",
                         ", ".join(t.name for t in node.inputs)))
    else:
        for l in model.layers:
            rows.append((l.name, repr(l), str((None,) + tuple(l.output_shape)), f"{l.param_count():,}"))
    total = f"Total params: {model.param_count():,}" + (" per network" if getattr(model, "ensemble", False) else "")
    return _table(header, rows, title) + f"<p><b>{_esc(total)}</b></p>"


# -- histories ----------------------------------------------------------------------------------

def _finals(curve: np.ndarray) -> np.ndarray:
    """Last finite value of each row of ``(M, T)``."""
    return np.array([r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in curve])


def history_html(history) -> str:
    """A history's final metrics as an HTML table: the value for one network; mean, std, min and
    max over the models for an ensemble; then how the models ended. ``data_loss`` and
    ``penalty`` are listed only when a penalty was applied (else they repeat ``loss`` and 0)."""
    steps_done = getattr(history, "steps_done", 0)
    caption = f"History: {len(history.steps)} points over {steps_done:,} steps"
    if not history.curves:
        return _table(["curve", "final"], [], caption + " (nothing recorded yet)")
    curves = {k: history.curves[k] for k in sorted(_default_keys(history.curves))}
    if history.single:
        rows = [(k, _fmt(float(_finals(c)[0]))) for k, c in curves.items()]
        out = _table(["curve", "final"], rows, caption)
    else:
        rows = []
        for k, c in curves.items():
            f = _finals(c)
            ok = f[np.isfinite(f)]
            stats = (ok.mean(), ok.std(), ok.min(), ok.max()) if ok.size else (np.nan,) * 4
            rows.append((k, *(_fmt(float(s)) for s in stats)))
        out = _table(["curve", "mean", "std", "min", "max"], rows, caption + f", {history.M} models")
    counts = {s: history.status.count(s) for s in dict.fromkeys(history.status)}
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    return out + f"<p>status: {_esc(status)}</p>"


_LOSS_PARTS = ("data_loss", "penalty")


def _groups(keys) -> list[list[str]]:
    """Curves drawn together: ``loss`` with ``val_loss`` (and ``data_loss``, ``penalty``), each
    metric with its ``val_`` twin."""
    keys = list(keys)
    groups, seen = [], set()
    order = sorted(keys, key=lambda k: (k.removeprefix("val_") not in ("loss",) + _LOSS_PARTS,
                                        k.removeprefix("val_"), k))
    for k in order:
        base = "loss" if k in _LOSS_PARTS else k.removeprefix("val_")
        if base in seen:
            continue
        seen.add(base)
        extra = _LOSS_PARTS if base == "loss" else ()
        groups.append([g for g in (base, "val_" + base, *extra) if g in keys])
    return groups


def _default_keys(curves: dict) -> list[str]:
    """Every curve, less ``data_loss``/``penalty`` when no penalty was applied (they would only
    repeat ``loss`` and draw zeros)."""
    pen = np.asarray(curves.get("penalty", []), dtype=float)
    no_penalty = not (np.isfinite(pen) & (pen != 0)).any()
    return [k for k in curves if not (no_penalty and k in _LOSS_PARTS)]


_FIGURE_CLASS = None


def _figure_class():
    """matplotlib's ``Figure`` with a ``_repr_png_``, so a notebook shows the figures glassnet
    returns (``hist.plot()`` as a cell's last line) without ``pyplot`` or ``%matplotlib inline``:
    glassnet draws on plain ``Figure`` objects, which IPython only knows how to show once pyplot's
    inline backend is loaded."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure  # noqa: PLC0415 - only when a figure is drawn

        class NotebookFigure(Figure):
            """A ``Figure`` that a notebook displays as a PNG."""

            def _repr_png_(self) -> bytes:
                return figure_png(self)

        NotebookFigure.__qualname__ = "NotebookFigure"    # found by pickle via __getattr__ below
        _FIGURE_CLASS = NotebookFigure
    return _FIGURE_CLASS


def __getattr__(name: str):
    # built on first use, so importing this module stays light (and pickle finds them by name)
    if name == "NotebookFigure":
        return _figure_class()
    if name == "NotebookStudyResult":
        return study_result_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def plot_curves(steps, curves: dict, keys=None, per_model: bool | None = None, band: str = "minmax",
                figsize=None, title: str = ""):
    """Draw curves ``{name: (M, T)}`` at ``steps`` on a new matplotlib ``Figure``.

    One panel per quantity (``loss`` beside ``val_loss``, each metric beside its ``val_`` twin).
    ``per_model``: one line per model (default for up to 5 models); otherwise the mean over
    models with a shaded band (``band="minmax"`` or ``"std"``). The loss axis is logarithmic when
    every value is positive. Legends sit outside the axes so they never hide data.
    """
    Figure = _figure_class()  # noqa: N806

    steps = np.asarray(steps)
    keys = [k for k in (keys or _default_keys(curves)) if k in curves]
    groups = _groups(keys) or [[]]
    n = len(groups)
    fig = Figure(figsize=figsize or (5.2 * min(n, 3), 3.4 * ((n + 2) // 3)), layout="constrained")
    axes = fig.subplots((n + 2) // 3, min(n, 3), squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, group in zip(axes, groups):
        for j, key in enumerate(group):
            c = np.atleast_2d(np.asarray(curves[key], dtype=float))
            M = c.shape[0]
            lines = per_model if per_model is not None else M <= 5
            color = f"C{j}"
            if M == 1 or lines:
                for m in range(M):
                    label = key if M == 1 else (f"{key} (models)" if m == 0 else None)
                    ax.plot(steps[: c.shape[1]], c[m], color=color, lw=1.2 if M == 1 else 0.8,
                            alpha=1.0 if M == 1 else 0.6, label=label)
            else:
                with np.errstate(all="ignore"):
                    mean = np.nanmean(c, axis=0)
                    if band == "std":
                        sd = np.nanstd(c, axis=0)
                        lo, hi, what = mean - sd, mean + sd, "±1 std"
                    else:
                        lo, hi, what = np.nanmin(c, axis=0), np.nanmax(c, axis=0), "min–max"
                x = steps[: c.shape[1]]
                ax.plot(x, mean, color=color, lw=1.5, label=f"{key}: mean of {M}")
                ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0, label=f"{key}: {what}")
        if group:
            base = group[0].removeprefix("val_")
            vals = np.concatenate([np.ravel(curves[k]) for k in group]).astype(float)
            vals = vals[np.isfinite(vals)]
            if base == "loss" and vals.size and (vals > 0).all():
                ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel(base)
            ax.set_title(base)
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_history(history, keys=None, per_model: bool | None = None, band: str = "minmax", figsize=None):
    """The curves of a :class:`~glassnet.training.History` (see :func:`plot_curves`); returns the
    matplotlib ``Figure`` (a notebook shows it inline; ``fig.savefig(path)`` writes it)."""
    return plot_curves(history.steps, history.curves, keys=keys, per_model=per_model, band=band,
                       figsize=figsize)


def figure_png(fig) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


# -- the live plot ------------------------------------------------------------------------------

class LivePlot(Callback):
    """Redraw loss and metric curves during training, in place, in a notebook.

    In a notebook the figure lives in one IPython display handle that is updated, not appended,
    so the output does not grow or flicker. ``redraws`` counts the figures drawn.

    Drawing is throttled so it cannot dominate training: after a redraw that took ``d`` seconds
    the next waits at least ``max(every, 3 * d)`` seconds from the end of that one, so drawing
    takes at most about a quarter of the wall time even when a figure is slow to draw (a busy
    machine, many panels).

    Parameters
    ----------
    every : float
        Least seconds between two redraws (the last state is always drawn at the end); ``0``
        redraws at every logged point, however long drawing takes.
    keys : list of str, optional
        Curves to draw (default: every logged curve).
    per_model : bool, optional
        Ensembles: a line per model, or the mean and a band (see :func:`plot_curves`).
    band : {"minmax", "std"}
        The band drawn around the mean.
    fallback : {"none", "tqdm"}
        Outside a notebook: do nothing (``fit`` shows its own progress bar), or show a tqdm bar
        with the current mean loss.
    figsize : tuple, optional
        Figure size in inches.
    """

    def __init__(self, every: float = 0.5, keys=None, per_model: bool | None = None, band: str = "minmax",
                 fallback: str = "none", figsize=None):
        from .errors import GlassnetError  # noqa: PLC0415

        if fallback not in ("none", "tqdm"):
            raise GlassnetError(f"LivePlot fallback must be 'none' or 'tqdm', got {fallback!r}")
        if not every >= 0:
            raise GlassnetError(f"LivePlot every must be >= 0 seconds, got {every!r}")
        self.every, self.keys, self.per_model, self.band = float(every), keys, per_model, band
        self.fallback, self.figsize = fallback, figsize
        self.notebook = False
        self.steps: list[int] = []
        self.curves: dict[str, list[np.ndarray]] = {}
        self.redraws = 0
        self._handle = None
        self._bar = None
        self._next = -np.inf        # monotonic time before which no redraw starts

    def on_train_begin(self, state):
        self.notebook = in_notebook()
        self._next = -np.inf
        if self.notebook and self._handle is None:
            from IPython.display import HTML, display  # noqa: PLC0415

            self._handle = display(HTML("<i>training…</i>"), display_id=True)
        elif not self.notebook and self.fallback == "tqdm" and self._bar is None:
            from tqdm.auto import tqdm  # noqa: PLC0415

            self._bar = tqdm(unit="step", desc=f"training {state.M} model{'s' if state.M > 1 else ''}")

    def on_log(self, state, logs):
        self.steps.append(int(state.step))
        for k, v in logs.items():
            self.curves.setdefault(k, []).append(np.array(v, dtype=float).reshape(-1))
        if self._bar is not None:
            self._bar.n = int(state.step)
            loss = np.asarray(logs.get("loss", np.nan), dtype=float)
            self._bar.set_postfix(loss=f"{np.nanmean(loss):.4g}" if np.isfinite(loss).any() else "nan")
        if self.notebook and (self.every == 0 or time.monotonic() >= self._next):
            self.draw()

    def on_train_end(self, state):
        if self.notebook:
            self.draw()
        if self._bar is not None:
            self._bar.n = int(state.step)
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def figure(self):
        """The current curves as a matplotlib ``Figure`` (also usable outside a notebook)."""
        curves = {k: np.stack(v, axis=1) for k, v in self.curves.items()}
        return plot_curves(self.steps, curves, keys=self.keys, per_model=self.per_model, band=self.band,
                           figsize=self.figsize)

    def draw(self) -> None:
        """Redraw now (into the display handle in a notebook)."""
        if not self.steps:
            return
        start = time.monotonic()
        fig = self.figure()
        self.redraws += 1
        if self._handle is not None:
            from IPython.display import Image  # noqa: PLC0415

            self._handle.update(Image(data=figure_png(fig), format="png"))
        end = time.monotonic()
        self._next = end + max(self.every, 3 * (end - start))


# -- studies ------------------------------------------------------------------------------------

def study(name: str, quick: bool = True, out=None, seeds: int | None = None, write: bool = True, store=None):
    """Run the study ``name`` from Python and return its result: a
    :class:`~glassnet.studies.StudyResult` with ``tables()`` and ``table(name)`` added (a
    ``NotebookStudyResult``, see :func:`with_tables`).

    ``quick=True`` (the default here) is the reduced run CI uses: seconds, every sweep kept. The
    result holds the raw measurements (``.data``, nested dicts of arrays; ``.tables()`` as tidy
    pandas DataFrames or dicts of columns), the findings, the numbers they quote, and the
    figures; in a notebook it displays its findings, summary, tables and figures inline. Same
    arguments as :func:`glassnet.studies.run_study` (``out`` defaults to
    ``glassnet-runs/studies/NAME``).

    >>> result = gn.study("dead-relu")                          # doctest: +SKIP
    >>> result.tables().keys()                                  # doctest: +SKIP
    dict_keys(['summary', 'groups:keys', 'groups:pred0', ..., 'w1_grid', 'x', 'grid_x'])
    >>> result.table("w1_grid")                                 # doctest: +SKIP
       axis0  w1_grid   w1_loss
    0      0     -2.0  3.819837
    ...
    """
    from .studies import run_study  # noqa: PLC0415 - studies pull in plotting and the recorder

    result = run_study(name, quick=quick, out=out, seeds=seeds, write=write, store=store)
    return with_tables(result)


_RESULT_CLASS = None


def study_result_class():
    """``NotebookStudyResult``: :class:`~glassnet.studies.StudyResult` plus ``tables()`` and
    ``table(name)`` (built on first use, so ``import glassnet`` does not load the studies)."""
    global _RESULT_CLASS
    if _RESULT_CLASS is None:
        from dataclasses import dataclass  # noqa: PLC0415

        from .studies import StudyResult  # noqa: PLC0415

        @dataclass
        class NotebookStudyResult(StudyResult):
            """A study result with its measurements as tables (what :func:`glassnet.study` returns)."""

            def tables(self, as_frame: bool | None = None) -> dict:
                """Every measurement as a tidy table, by name (see
                :func:`glassnet.notebook.measurement_tables`): pandas ``DataFrame`` objects when
                pandas is installed, else dicts of NumPy column arrays (``as_frame=False``)."""
                return study_tables(self, as_frame)

            def table(self, name: str, as_frame: bool | None = None):
                """One table of :meth:`tables`; an unknown name lists the valid ones."""
                return study_table(self, name, as_frame)

        NotebookStudyResult.__qualname__ = "NotebookStudyResult"
        _RESULT_CLASS = NotebookStudyResult
    return _RESULT_CLASS


def with_tables(result):
    """``result`` (a :class:`~glassnet.studies.StudyResult`) as a ``NotebookStudyResult``: the
    same fields, plus ``tables()`` and ``table(name)``."""
    from dataclasses import fields  # noqa: PLC0415

    cls = study_result_class()
    if isinstance(result, cls):
        return result
    return cls(**{f.name: getattr(result, f.name) for f in fields(result)})


def _img_tag(path: Path, width: int = 640) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' style='max-width:{width}px' alt='{_esc(Path(path).name)}'/>"


def study_html(result, max_figures: int = 12) -> str:
    """A study result as HTML: title, mode and time, the key findings, the summary table, its
    measurement tables (each a folded preview; see :func:`measurement_tables`), then the
    figures (inlined)."""
    mode = "quick" if result.quick else "full"
    parts = [f"<h3>Study <code>{_esc(result.name)}</code></h3>",
             f"<p>{mode} run, {result.seeds} seed(s) per configuration, {result.seconds:.1f} s"
             + (f"; report: <code>{_esc(result.report_path)}</code>" if result.report_path else "") + "</p>"]
    if result.findings:
        parts.append("<h4>Key findings</h4><ul>" + "".join(f"<li>{_esc(f)}</li>" for f in result.findings)
                     + "</ul>")
    tables, skipped = measurement_tables(result.data, result.report.summary)
    if "summary" in tables:
        headers, rows = result.report.summary
        parts.append("<h4>Summary</h4>" + _table(headers, [[_fmt(c) for c in r] for r in rows]))
    data_tables = {k: v for k, v in tables.items() if k != "summary"}
    if data_tables:
        parts.append(f"<h4>Measurements</h4><p>{len(data_tables)} tables, one row per number; "
                     "<code>result.table(name)</code> gives one as a pandas DataFrame (or a dict of "
                     "columns without pandas), <code>result.data</code> the raw arrays.</p>")
        parts += [_preview_html(k, v) for k, v in data_tables.items()]
        if skipped:
            parts.append(f"<p>Left out (over {MAX_TABLE_CELLS:,} values; in <code>result.data</code>): "
                         f"{_esc(', '.join(skipped))}</p>")
    figs = [p for p in result.figures if Path(p).is_file()]
    if figs:
        parts.append("<h4>Figures</h4>")
        parts += [f"<div>{_img_tag(p)}</div>" for p in figs[:max_figures]]
        if len(figs) > max_figures:
            parts.append(f"<p>… and {len(figs) - max_figures} more in <code>{_esc(result.out)}</code></p>")
    return "".join(parts)


# -- study measurements as tables ---------------------------------------------------------------

def study_tables(result, as_frame: bool | None = None) -> dict:
    """A study result's measurements as tables, by name (see :func:`measurement_tables`):
    pandas ``DataFrame`` objects when pandas is installed (``as_frame=None``), else dicts of
    NumPy column arrays (``as_frame=False`` forces those)."""
    tables, _ = measurement_tables(result.data, result.report.summary)
    return as_frames(tables, as_frame)


def study_table(result, name: str, as_frame: bool | None = None):
    """One table of :func:`study_tables`; an unknown ``name`` lists the valid ones."""
    tables, _ = measurement_tables(result.data, result.report.summary)
    if name not in tables:
        from .errors import GlassnetError  # noqa: PLC0415

        raise GlassnetError(f"study {result.name!r} has no table {name!r}; its tables: {', '.join(tables)}")
    return as_frames({name: tables[name]}, as_frame)[name]


def _preview_html(name: str, table: dict, rows: int = 5) -> str:
    cols = list(table)
    n = len(next(iter(table.values()))) if table else 0
    body = [[_fmt(table[c][i].item() if hasattr(table[c][i], "item") else table[c][i]) for c in cols]
            for i in range(min(n, rows))]
    more = f" (first {rows} of {n:,} rows)" if n > rows else ""
    return (f"<details><summary><code>{_esc(name)}</code>: {n:,} rows × {len(cols)} columns{more}</summary>"
            + _table(cols, body) + "</details>")
