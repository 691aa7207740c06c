"""ONNX export, verified by running every exported file in onnxruntime against ``predict``."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet.export import to_onnx  # noqa: E402
from glassnet.layers import Layer  # noqa: E402

from .export_models import ACTIVATIONS, act_id, dense_model, image_models, trained  # noqa: E402


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def check_close(got, want, tol=1e-5):
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=act_id)
def test_every_activation(tmp_path, activation):
    model, x = trained(dense_model(activation).layers, (5,))
    path = to_onnx(model, tmp_path / "net.onnx")
    assert path == tmp_path / "net.onnx" and path.is_file()
    check_close(run_onnx(path, x), model.predict(x))


IMAGE, SHAPE = image_models()


@pytest.mark.parametrize("name", sorted(IMAGE))
def test_conv_pooling_batchnorm_models(tmp_path, name):
    model, x = trained(IMAGE[name], SHAPE)
    onnx.checker.check_model(onnx.load(to_onnx(model, tmp_path / name)))
    check_close(run_onnx(tmp_path / f"{name}.onnx", x), model.predict(x))


def test_one_file_per_network_of_an_ensemble_or_a_chosen_one(tmp_path):
    model, x = trained(dense_model("tanh", models=3).layers, (5,), models=3)
    paths = to_onnx(model, tmp_path / "ens.onnx")
    assert [p.name for p in paths] == ["ens_model0.onnx", "ens_model1.onnx", "ens_model2.onnx"]
    pred = model.predict(x)
    for m, p in enumerate(paths):
        check_close(run_onnx(p, x), pred[m])
    one = to_onnx(model, tmp_path / "second", model_index=1)
    assert one.name == "second.onnx"
    check_close(run_onnx(one, x), pred[1])
    meta = onnx.load(one)
    assert "seed 1" in meta.doc_string and meta.producer_name == "glassnet"
    with pytest.raises(gn.GlassnetError, match=r"model_index must be an int in \[0, 3\)"):
        to_onnx(model, tmp_path / "x.onnx", model_index=3)


def test_float64_model_exports_double(tmp_path):
    # (not gelu: onnxruntime's CPU provider has no double Erf kernel; the file itself is valid)
    model, x = trained(dense_model("swish", dtype="float64").layers, (5,), dtype="float64")
    check_close(run_onnx(to_onnx(model, tmp_path / "d.onnx"), x), model.predict(x), tol=1e-12)


def test_unsupported_layers_and_activations_are_clear_errors(tmp_path):
    class Square(Layer):
        kind = "square_test"

        def forward(self, x, train):
            return x * x

    model = gn.Sequential([gn.Dense(3), Square()], input_shape=(2,))
    with pytest.raises(gn.GlassnetError, match=r"layer 'square_test_0' \(Square\) has no export"):
        to_onnx(model, tmp_path / "sq.onnx")

    class Cube(gn.activations.Activation):
        name = "cube_test"

        def __call__(self, z):
            return z ** 3

    with gn.activations.activations.temporary("cube_test", Cube):
        model = gn.Sequential([gn.Dense(3, activation="cube_test")], input_shape=(2,))
        with pytest.raises(gn.GlassnetError, match="activation 'cube_test' has no export"):
            to_onnx(model, tmp_path / "cube.onnx")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(gn.GlassnetError, match="has not been built"):
        to_onnx(gn.Sequential([gn.Dense(2)]), tmp_path / "unbuilt.onnx")
    with pytest.raises(gn.GlassnetError, match="does not exist"):
        to_onnx(dense_model("relu"), tmp_path / "missing" / "net.onnx")


def test_export_imports_nothing_heavy_until_called():
    import subprocess
    import sys

    code = ("import sys, glassnet, glassnet.export; "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'sklearn', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
