"""glassnet.plots draws what the sequence layers return as arrays: attention weights and the
per-time-step gradient norms of a recurrent layer (and per-layer gradient norms against depth)."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import plots
from glassnet.errors import GlassnetError


def test_attention_figure_from_a_layer(tmp_path):
    rng = np.random.default_rng(0)
    model = gn.Sequential([gn.MultiHeadAttention(num_heads=2, key_dim=4), gn.Flatten(), gn.Dense(1)],
                          input_shape=(5, 8), seed=0)
    model.predict(rng.standard_normal((3, 5, 8)).astype("float32"))
    A = model.layers[0].attention_weights  # (M, B, heads, T, S), returned as an array
    assert A.shape == (1, 3, 2, 5, 5)
    np.testing.assert_allclose(A.sum(-1), 1, rtol=1e-5)
    fig = plots.attention_figure(A[0, 1], keys=list("abcde"), title="sample 1")
    heads = [ax for ax in fig.axes if ax.get_title().startswith("head")]
    assert len(heads) == 2
    assert all(ax.get_xlabel() == "key step (attended to)" and ax.get_ylabel() == "query step" for ax in heads)
    assert any("attention weight" in ax.get_ylabel() for ax in fig.axes if ax not in heads)  # the colorbar
    assert [t.get_text() for t in heads[0].get_xticklabels()] == list("abcde")
    path = plots.save(fig, tmp_path / "attention")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GlassnetError, match="attention weights"):
        plots.attention_figure(np.ones(3))


def test_step_gradient_figure_from_recurrent_layers(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 12, 3)), rng.integers(0, 2, 8)
    norms = {}
    for cls in (gn.SimpleRNN, gn.LSTM):
        model = gn.Sequential([cls(6), gn.Dense(2)], input_shape=(12, 3), seed=[0, 1, 2])
        model.fit(x, y, loss="softmax_cross_entropy", steps=1, progress=False, metrics=[])
        norms[cls.__name__] = model.layers[0].step_grad_norms  # (M, T), returned as an array
        assert norms[cls.__name__].shape == (3, 12)
    fig = plots.step_gradient_figure(norms, title="gradient through time")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("time step t") and "dL/dh_t" in ax.get_ylabel()
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["SimpleRNN", "LSTM"]
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # beside the data, not on it
    assert "/ ||dL/dh_T||" in plots.step_gradient_figure(norms, relative=True).axes[0].get_ylabel()
    assert plots.save(fig, tmp_path / "steps").exists()


def test_layer_gradient_figure(tmp_path):
    norms = {"plain": np.geomspace(1e-6, 1, 20)[None] * [[1], [2]], "residual": np.ones((2, 20))}
    fig = plots.layer_gradient_figure(norms, title="depth")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel().startswith("layer k")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["plain", "residual"]
    assert plots.save(fig, tmp_path / "depth").exists()
