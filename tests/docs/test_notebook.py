"""Jupyter helpers: rich displays, history figures, LivePlot and gn.study, without a notebook."""

from __future__ import annotations

import subprocess
import sys
import time
import types

import numpy as np
import pytest

import glassnet as gn
from glassnet import notebook


def _autoencoder(seed=0):
    return gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                         input_shape=(8,), init=gn.init.Normal(std=0.1), seed=seed)


def _fit(model, steps=60, **kw):
    x = np.eye(8)
    return model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=2.0), batch_size=8, steps=steps,
                     metrics=["accuracy"], log_every=5, progress=False, **kw)


def test_import_glassnet_stays_light():
    code = "import sys, glassnet; print('matplotlib' in sys.modules, 'IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_network_repr_html_is_the_summary_table_and_the_graph():
    model = _autoencoder()
    html = model._repr_html_()
    assert "<table class='glassnet'>" in html and "<th>output shape</th>" in html
    assert html.index("<table") < html.index("<svg")          # the table, then the drawing
    assert notebook.summary_html(model, graph=False).startswith("<table")
    assert "(None, 3)" in html and "(None, 8)" in html
    assert "Total params: 59" in html                       # 8*3+3 + 3*8+8
    ens = _autoencoder(seed=[0, 1, 2])
    assert "3 networks on the model axis" in ens._repr_html_() and "per network" in ens._repr_html_()


def test_graph_model_repr_html_names_what_each_layer_reads():
    inp = gn.Input((4,))
    h = gn.Dense(5, activation="tanh")(inp)
    out = gn.Add()([gn.Dense(5)(h), h])
    html = gn.Model(inp, out, seed=0)._repr_html_()
    assert "<th>reads</th>" in html and "(graph)" in html and "Input" in html


def test_history_repr_html_single_and_ensemble():
    h1 = _fit(_autoencoder())
    html = h1._repr_html_()
    assert "<td>loss</td>" in html and "<td>accuracy</td>" in html
    assert f"{h1.final('loss'):.4g}" in html and "completed" in html
    hm = _fit(_autoencoder(seed=[0, 1, 2, 3]))
    html = hm._repr_html_()
    assert "<th>mean</th>" in html and "4 models" in html
    assert f"{np.mean(hm.final('loss')):.4g}" in html


def test_history_plot_single_one_curve_per_panel_labelled():
    fig = _fit(_autoencoder()).plot()
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_ylabel() for a in axes] == ["loss", "accuracy"]
    assert all(a.get_xlabel() == "step" for a in axes)
    assert axes[0].get_yscale() == "log"
    assert len(axes[0].lines) == 1 and axes[0].get_legend() is not None
    # the legend sits outside the axes (anchored right of them), so it never hides data
    assert axes[0].get_legend().get_bbox_to_anchor().x0 > axes[0].bbox.x1 - 1


def test_history_plot_ensemble_lines_or_mean_with_band():
    h = _fit(_autoencoder(seed=list(range(8))))
    fig = h.plot(per_model=True)
    assert len(fig.axes[0].lines) == 8
    fig = h.plot()                                           # 8 > 5 models: mean and band
    ax = fig.axes[0]
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.nanmean(h["loss"], axis=0))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["loss: mean of 8", "loss: min–max"]


def test_history_plot_with_validation_pairs_curves():
    x = np.eye(8)
    h = _autoencoder().fit(np.tile(x, (2, 1)), np.tile(x, (2, 1)), loss="half_sse", optimizer=gn.SGD(lr=2.0),
                           batch_size=8, steps=20, validation_split=0.5, progress=False)
    ax = h.plot().axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "val_loss"]


def test_liveplot_outside_a_notebook_draws_nothing_but_keeps_curves():
    live = notebook.LivePlot(every=0)
    h = _fit(_autoencoder(seed=[0, 1]), callbacks=[live])
    assert not live.notebook and live.redraws == 0
    assert live.steps == list(h.steps)
    np.testing.assert_allclose(np.stack(live.curves["loss"], axis=1), h["loss"])
    assert len(live.figure().axes[0].lines) == 2


def test_liveplot_tqdm_fallback(capsys):
    live = notebook.LivePlot(fallback="tqdm")
    _fit(_autoencoder(), steps=20, callbacks=[live])
    assert "loss=" in capsys.readouterr().err


def test_liveplot_in_a_notebook_updates_one_display_handle_throttled(monkeypatch):
    pytest.importorskip("IPython")
    import IPython
    import IPython.display as display_mod

    class ZMQInteractiveShell:  # the kernel's shell, by name
        pass

    updates, shown = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return Handle()

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setattr(display_mod, "display", fake_display)
    assert notebook.in_notebook()
    live = notebook.LivePlot(every=3600)                     # throttled: first log and the end only
    _fit(_autoencoder(seed=[0, 1, 2]), steps=40, callbacks=[live])
    assert len(shown) == 1 and live.redraws == 2 and len(updates) == 2
    assert updates[-1].data[:8] == b"\x89PNG\r\n\x1a\n"
    live2 = notebook.LivePlot(every=0)                       # unthrottled: every logged point
    _fit(_autoencoder(), steps=20, callbacks=[live2])
    assert live2.redraws == len(live2.steps) + 1


def test_liveplot_is_a_callback_and_validates():
    assert isinstance(notebook.LivePlot(), gn.Callback)
    with pytest.raises(gn.GlassnetError, match="fallback"):
        notebook.LivePlot(fallback="bar")


def test_study_entry_point_and_result_html(tmp_path):
    result = gn.study("dead-relu", quick=True, out=tmp_path / "dr")
    assert result.name == "dead-relu" and result.quick and result.findings
    html = result._repr_html_()
    assert "Key findings" in html and result.findings[0][:40] in html.replace("&#x27;", "'").replace("&quot;", '"') \
        or html.count("<li>") == len(result.findings)
    assert html.count("<img src='data:image/png;base64,") == min(len(result.figures), 12) > 0


def test_liveplot_slow_drawing_takes_at_most_a_share_of_training(monkeypatch):
    """A redraw that takes d seconds holds off the next for 3 d, so a slow figure (a busy
    machine) cannot turn a fit into a slideshow: here each draw takes 0.2 s and the fit logs 41
    points, yet only a few are drawn (the first, the last, and what 0.6 s gaps allow)."""
    pytest.importorskip("IPython")
    import IPython
    import IPython.display as display_mod

    class ZMQInteractiveShell:
        pass

    class Handle:
        def update(self, obj):
            pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setattr(display_mod, "display", lambda obj, display_id=False: Handle())
    real_png = notebook.figure_png

    def slow_png(fig):
        time.sleep(0.2)
        return real_png(fig)

    monkeypatch.setattr(notebook, "figure_png", slow_png)
    live = notebook.LivePlot(every=0.01)
    t0 = time.perf_counter()
    _fit(_autoencoder(), steps=200, callbacks=[live])
    elapsed = time.perf_counter() - t0
    assert len(live.steps) == 41
    assert 2 <= live.redraws <= 2 + elapsed / 0.6      # first and last, plus one per 3 x 0.2 s


def test_figures_show_in_a_notebook_without_pyplot():
    """``hist.plot()`` as a cell's last line displays: the figure has a ``_repr_png_`` (a plain
    matplotlib Figure only shows once pyplot's inline backend is loaded)."""
    fig = _fit(_autoencoder(), steps=10).plot()
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    import pickle

    assert type(pickle.loads(pickle.dumps(fig))) is type(fig)


def test_history_html_lists_penalty_parts_only_with_a_penalty():
    plain = _fit(_autoencoder(), steps=10)._repr_html_()
    assert "<td>loss</td>" in plain and "<td>penalty</td>" not in plain and "<td>data_loss</td>" not in plain
    x = np.eye(8)
    decayed = _autoencoder().fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=2.0), weight_decay=1e-2,
                                 batch_size=8, steps=10, progress=False)._repr_html_()
    assert "<td>penalty</td>" in decayed and "<td>data_loss</td>" in decayed
