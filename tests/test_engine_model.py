"""Sequential as users see it: save/load, summary, repr, dtypes, predict, evaluate, params."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import glassnet as gn


def trained(models=None, seed=0, dtype="float64"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 4))
    y = rng.integers(0, 3, 12)
    model = gn.Sequential([gn.Dense(6, activation={"name": "leaky_relu", "alpha": 0.2}), gn.BatchNorm(),
                           gn.Dropout(0.3), gn.Dense(5, activation="prelu",
                                                     kernel_regularizer=gn.L2(0.01)),
                           gn.Dense(3, use_bias=False, activation="softmax")],
                          input_shape=(4,), seed=seed, models=models, dtype=dtype)
    model.fit(x, y, loss="cross_entropy", optimizer=gn.Adam(lr=0.01), steps=6, batch_size=5)
    return model, x, y


@pytest.mark.parametrize("models", [None, 3])
def test_save_load_round_trip(tmp_path, models):
    model, x, y = trained(models)
    path = model.save(tmp_path / "sub" / "m")
    assert path.suffix == ".npz" and path.exists()
    loaded = gn.Sequential.load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.ensemble == model.ensemble and loaded.M == model.M and loaded.seeds == model.seeds
    assert loaded.dtype == model.dtype and repr(loaded) == repr(model)
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    for a, b in zip(model.layers, loaded.layers):
        assert a.config() == b.config()
        for k in a.buffers:
            np.testing.assert_array_equal(a.buffers[k], b.buffers[k])
    assert gn.load_model(path).param_count() == model.param_count()
    # the loaded model trains on (regularizers and activations came back)
    assert loaded.fit(x, y, loss="cross_entropy", steps=1, batch_size="full").status[0] == "completed"


def test_model_file_has_no_pickle_and_a_json_header(tmp_path):
    model, x, _ = trained(2)
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}  # raises if anything needs pickle
    assert all(a.dtype != object for a in arrays.values())
    header = json.loads(str(arrays.pop("__model__")))
    assert header["format"] == "glassnet-model" and header["models"] == 2 and header["dtype"] == "float64"
    assert [layer["type"] for layer in header["layers"]] == ["dense", "batchnorm", "dropout", "dense", "dense"]
    assert set(arrays) == {f"param/{p.name.replace('.', '/')}" for p in model.param_list} | {
        "buffer/batchnorm_0/running_mean", "buffer/batchnorm_0/running_var"}
    with zipfile.ZipFile(path) as z:  # no pickle opcodes hidden anywhere in the archive
        for info in z.infolist():
            assert not z.read(info).startswith(b"\x80"), info.filename


def test_float32_is_the_default_and_float64_everywhere():
    model, x, y = trained(dtype=None)
    assert model.dtype == np.float32
    assert all(p.value.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.param_list)
    assert model.predict(x).dtype == np.float32
    assert all(b.dtype == np.float32 for layer in model.layers for b in layer.buffers.values())
    model64, _, _ = trained(dtype="float64")
    assert all(p.value.dtype == np.float64 for p in model64.param_list)
    assert model64.predict(x).dtype == np.float64
    gn.set_default_dtype("float64")
    assert gn.Sequential([gn.Dense(2)], input_shape=(3,)).param_list[0].value.dtype == np.float64


def test_float32_momentum_forms_and_adamw_stay_float32():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    for opt in (gn.SGD(0.1, momentum=0.9, nesterov=True), gn.SGD(0.1, momentum=0.9, form="keras"),
                gn.AdamW(0.01, decay_all=True)):
        model = gn.Sequential([gn.Dense(4, activation="elu"), gn.Dense(2, activation="prelu")], input_shape=(3,))
        model.fit(x, y, loss="mse", optimizer=opt, steps=3, batch_size=4, weight_decay=1e-3,
                  callbacks=[gn.CosineDecay(3)])
        assert all(p.value.dtype == np.float32 for p in model.param_list), opt


def test_summary_counts():
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")], input_shape=(8,))
    text = model.summary(print_fn=None)
    lines = text.splitlines()
    dense0 = next(line for line in lines if line.startswith("dense_0"))
    dense1 = next(line for line in lines if line.startswith("dense_1"))
    assert dense0.split()[-1] == str(8 * 3 + 3) and "(None, 3)" in dense0
    assert dense1.split()[-1] == str(3 * 8 + 8) and "(None, 8)" in dense1
    assert lines[-1] == "Total params: 59"
    printed = []
    model.summary(print_fn=printed.append)
    assert printed == [text]
    ens = gn.Sequential([gn.Flatten(), gn.Dense(1000), gn.BatchNorm(), gn.Dense(2, activation="prelu")],
                        input_shape=(2, 5), models=4)
    text = ens.summary(print_fn=None)
    assert "4 networks" in text
    assert "11,000" in text and "2,000" in text and "2,004" in text  # 10*1000+1000, 2*1000, 1000*2+2+2
    assert text.splitlines()[-1] == f"Total params: {11000 + 2000 + 2004:,} per network"
    assert ens.param_count() == sum(layer.param_count() for layer in ens.layers) == 15004


def test_repr_shows_the_architecture():
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dropout(0.5), gn.Dense(8, use_bias=False)],
                          input_shape=(8,))
    text = repr(model)
    assert "Dense(3, activation='sigmoid')" in text and "Dropout(rate=0.5)" in text
    assert "Dense(8, activation='identity', use_bias=False)" in text and "input_shape=(8,)" in text
    assert "models" not in text
    assert "models=3" in repr(gn.Sequential([gn.Dense(1)], input_shape=(2,), models=3))


@pytest.mark.parametrize("models", [None, 2])
def test_predict_in_chunks_equals_one_pass(models):
    model, _, _ = trained(models)
    x = np.random.default_rng(1).standard_normal((23, 4))
    whole = model.predict(x)
    for bs in (1, 5, 22, 23, 100):
        np.testing.assert_allclose(model.predict(x, batch_size=bs), whole, rtol=1e-13, atol=1e-15)
    assert whole.shape == ((23, 3) if models is None else (2, 23, 3))
    np.testing.assert_allclose(whole.sum(axis=-1), 1.0, rtol=1e-12)  # a softmax output
    # inference is deterministic (no dropout) and does not touch the running statistics
    bn = model.layers[1]
    before = {k: v.copy() for k, v in bn.buffers.items()}
    np.testing.assert_array_equal(model.predict(x), whole)
    for k in before:
        np.testing.assert_array_equal(bn.buffers[k], before[k])


def test_predict_per_model_inputs():
    model, _, _ = trained(2)
    x = np.random.default_rng(2).standard_normal((2, 7, 4))
    out = model.predict(x)
    for m in range(2):
        np.testing.assert_allclose(out[m], model.predict(x[m])[m], rtol=1e-13)


def test_evaluate_against_hand_computed_loss_and_accuracy():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    model = gn.Sequential([gn.Dense(2, activation="tanh")], input_shape=(3,), seed=1, dtype="float64")
    pred = model.predict(x)
    ev = model.evaluate(x, y, "mse", metrics=())
    assert set(ev) == {"loss"} and isinstance(ev["loss"], float)
    assert ev["loss"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-13)
    assert model.evaluate(x, y, "half_sse")["loss"] == pytest.approx(0.5 * np.sum((pred - y) ** 2) / 9, rel=1e-13)
    labels = rng.integers(0, 2, 9)
    ev = model.evaluate(x, labels, "softmax_cross_entropy")
    assert ev["accuracy"] == pytest.approx(np.mean(pred.argmax(1) == labels))
    logp = pred - np.log(np.exp(pred).sum(1, keepdims=True))
    assert ev["loss"] == pytest.approx(-logp[np.arange(9), labels].mean(), rel=1e-12)
    # a single logit, thresholded at 0, against 0/1 labels
    one = gn.Sequential([gn.Dense(1)], input_shape=(3,), seed=1, dtype="float64")
    z = one.predict(x)[:, 0]
    ev = one.evaluate(x, labels, "binary_cross_entropy_logits")
    assert ev["accuracy"] == pytest.approx(np.mean((z > 0) == (labels > 0.5)))


def test_params_and_grads_views():
    single = gn.Sequential([gn.Dense(3), gn.Dense(2, use_bias=False)], input_shape=(4,), dtype="float64")
    assert list(single.params) == ["dense_0.W", "dense_0.b", "dense_1.W"]
    assert single.params["dense_0.W"].shape == (4, 3)  # model axis dropped for one network
    assert [p.regularize for p in single.param_list] == [True, False, True]
    ens = gn.Sequential([gn.Dense(3), gn.Dense(2, use_bias=False)], input_shape=(4,), models=5, dtype="float64")
    assert ens.params["dense_0.W"].shape == (5, 4, 3) and ens.params["dense_0.b"].shape == (5, 3)
    x = np.ones((2, 4))
    out = ens.forward(x, train=True)
    assert out.shape == (5, 2, 2)
    ens.backward(np.ones_like(out))
    assert ens.grads["dense_1.W"].shape == (5, 3, 2)
    assert [layer.output_shape for layer in ens.layers] == [(3,), (2,)]
    assert [layer.input_shape for layer in ens.layers] == [(4,), (3,)]


def test_model_builds_from_the_first_data():
    model = gn.Sequential([gn.Dense(2)], seed=0)
    assert not model.built
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), loss="mse", steps=1)
    assert model.input_shape == (3,) and model.params["dense_0.W"].shape == (3, 2)
