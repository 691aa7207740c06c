"""Graph models (skip connections, merges, several inputs and outputs) exported to ONNX and to
PyTorch give ``predict``'s outputs: float64 to 1e-9, float32 to 1e-5."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Layer

from .export_models import graph_models, trained_graph

NAMES = sorted(graph_models())
TOL = {"float32": 1e-5, "float64": 1e-9}
#: onnxruntime's CPU provider has no double Conv (nor Elu, Erf) kernel: the files are valid, and
#: the torch tests check these models in float64
ONNX_CASES = [(n, d) for n in NAMES for d in ("float32", "float64")
              if d == "float32" or n in ("residual", "two_branch_concat", "gated_add")]


def _as_list(a):
    return list(a) if isinstance(a, (list, tuple)) else [a]


def _check(got, want, dtype):
    got, want = _as_list(got), _as_list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize(("name", "dtype"), ONNX_CASES)
def test_onnx_runs_what_predict_computes(tmp_path, name, dtype):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from glassnet.export import to_onnx

    model, x = trained_graph(graph_models(dtype)[name])
    path = to_onnx(model, tmp_path / name)
    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feeds = dict(zip(names, _as_list(x)))
    _check(session.run(None, feeds), model.predict(x), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_torch_module_computes_what_predict_computes(name, dtype):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from glassnet.export import to_torch

    model, x = trained_graph(graph_models(dtype)[name])
    module = to_torch(model)
    assert not module.training
    with torch.no_grad():
        got = module(*(torch.from_numpy(a) for a in _as_list(x)))
    _check([g.numpy() for g in _as_list(got)], model.predict(x), dtype)


def test_several_inputs_and_outputs_keep_their_names(tmp_path):
    onnx = pytest.importorskip("onnx")
    from glassnet.export import to_onnx

    model = graph_models()["two_inputs_two_outputs"]
    proto = onnx.load(to_onnx(model, tmp_path / "io.onnx"))
    assert [i.name for i in proto.graph.input] == ["image", "extra"]
    assert [o.name for o in proto.graph.output] == ["head_a", "head_b"]
    one = onnx.load(to_onnx(graph_models()["residual"], tmp_path / "one.onnx"))
    assert [i.name for i in one.graph.input] == ["input"] and [o.name for o in one.graph.output] == ["output"]


def test_a_shared_input_is_transposed_once_and_merges_stay_channels_first():
    from glassnet.export._plan import plan

    ops = plan(graph_models()["conv_residual"], 0).ops
    kinds = [op.kind for op in ops]
    # one transpose in (read by the conv and by the Add), one back before Flatten
    assert kinds.count("transpose") == 2
    add = next(op for op in ops if op.kind == "add")
    assert add.inputs[0] == ops[0].name  # the transposed input, not a second transpose


def test_torch_graph_state_dict_loads_back():
    pytest.importorskip("torch")
    from glassnet.export import load_state_dict_into, to_torch

    model, x = trained_graph(graph_models("float64")["residual"])
    module = to_torch(model)
    assert {n for n, _ in module.named_children()} >= {"dense_0", "dense_1", "add_0", "activation_0", "dense_2"}
    state = {k: v * 2 for k, v in module.state_dict().items()}
    load_state_dict_into(model, state)
    np.testing.assert_array_equal(model.params["dense_0.W"], state["dense_0.weight"].numpy().T)


def test_an_unsupported_layer_in_a_graph_is_one_clear_error(tmp_path):
    x = gn.Input((3, 2))
    h = gn.LSTM(4)(x)
    model = gn.Model(x, gn.Dense(2)(gn.Concatenate()([h, gn.Dense(4)(gn.Flatten()(x))])))
    from glassnet.export._plan import plan

    with pytest.raises(gn.GlassnetError, match=r"^layer 'lstm_0' \(LSTM\) has no export; exportable layers: "
                                               r"dense, .*add, multiply, concatenate$"):
        plan(model, 0)

    class Square(Layer):
        kind = "square_test"

        def forward(self, x, train):
            return x * x

    x = gn.Input((3,))
    model = gn.Model(x, gn.Add()([x, Square()(x)]))
    with pytest.raises(gn.GlassnetError, match=r"layer 'square_test_0' \(Square\) has no export"):
        plan(model, 0)
    with pytest.raises(gn.GlassnetError, match="needs a glassnet Sequential or Model"):
        plan(object(), 0)


def test_each_network_of_a_graph_ensemble_exports(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    from glassnet.export import to_onnx, to_torch

    model, x = trained_graph(graph_models(seed=[5, 6])["two_branch_concat"])
    pred = model.predict(x)
    paths = to_onnx(model, tmp_path / "ens.onnx")
    assert [p.name for p in paths] == ["ens_model0.onnx", "ens_model1.onnx"]
    for m, path in enumerate(paths):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        _check(session.run(None, {"input": x})[0], pred[m], "float32")
        with torch.no_grad():
            _check(to_torch(model, model_index=m)(torch.from_numpy(x)).numpy(), pred[m], "float32")
