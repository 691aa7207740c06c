"""Bad input: each mistake is one GlassnetError (a ValueError) on one line naming the argument."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.activations import activations
from glassnet.errors import GlassnetError
from glassnet.initializers import initializers
from glassnet.losses import losses
from glassnet.optimizers import optimizers


def net(**kw):
    return gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(3)], input_shape=(2,), **kw)


X = np.zeros((5, 2))
Y = np.zeros((5, 3))
LABELS = np.array([0, 1, 2, 0, 1])


def one_line_error(fn, *names) -> str:
    """Run ``fn``; it must raise GlassnetError whose single-line message contains every name."""
    with pytest.raises(GlassnetError) as info:
        fn()
    msg = str(info.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    for name in names:
        assert name in msg, f"{name!r} not in {msg!r}"
    assert isinstance(info.value, ValueError)
    return msg


def nan_at(a, idx=(0, 0)):
    a = np.array(a, dtype=float)
    a[idx] = np.nan
    return a


# each case: (id, callable, words the message must contain)
CASES = [
    ("x_features", lambda: net().fit(np.zeros((5, 3)), Y), ["x", "(5, 3)", "2"]),
    ("x_ndim", lambda: net().predict(np.zeros(5)), ["x", "(5,)"]),
    ("x_models_axis", lambda: net(models=3).predict(np.zeros((2, 5, 2))), ["x", "models=3"]),
    ("x_not_numeric", lambda: net().fit(X.astype(str), Y), ["x", "numeric"]),
    ("y_shape", lambda: net().fit(X, np.zeros((5, 2))), ["y", "(5, 2)", "mse"]),
    ("y_length", lambda: net().fit(X, np.zeros((4, 3))), ["x", "y", "5", "4"]),
    ("y_float_labels", lambda: net().fit(X, np.array([0, 1, 0.5, 0, 1]), loss="softmax_cross_entropy"),
     ["y", "labels", "softmax_cross_entropy"]),
    ("label_too_big", lambda: net().fit(X, np.array([0, 1, 3, 0, 1]), loss="softmax_cross_entropy"),
     ["y", "labels", "[0, 3)", "3"]),
    ("label_negative", lambda: net().fit(X, np.array([0, -1, 2, 0, 1]), loss="cross_entropy"),
     ["y", "labels", "[0, 3)", "-1"]),
    ("label_evaluate", lambda: net().evaluate(X, np.array([0, 1, 5, 0, 1]), "softmax_cross_entropy"),
     ["labels", "5"]),
    ("nan_x", lambda: net().fit(nan_at(X), Y), ["x", "NaN"]),
    ("inf_x", lambda: net().predict(np.full((2, 2), np.inf)), ["x", "infinite"]),
    ("nan_y", lambda: net().fit(X, nan_at(Y)), ["y", "NaN"]),
    ("nan_val_x", lambda: net().fit(X, Y, validation_data=(nan_at(X), Y)), ["validation x", "NaN"]),
    ("nan_val_y", lambda: net().fit(X, Y, validation_data=(X, nan_at(Y))), ["validation y", "NaN"]),
    ("val_not_pair", lambda: net().fit(X, Y, validation_data=X), ["validation_data"]),
    ("unknown_activation", lambda: gn.Dense(3, activation="relux"), ["activation", "relux", "sigmoid"]),
    ("unknown_activation_layer", lambda: gn.Activation("sigmoyd"), ["activation", "sigmoyd", "tanh"]),
    ("activation_option", lambda: gn.Dense(3, activation={"name": "elu", "beta": 1}), ["elu", "beta"]),
    ("leaky_alpha", lambda: gn.Dense(3, activation={"name": "leaky_relu", "alpha": -1}), ["alpha", "-1"]),
    ("unknown_loss", lambda: net().fit(X, Y, loss="msee"), ["loss", "msee", "half_sse"]),
    ("unknown_optimizer", lambda: net().fit(X, Y, optimizer="sgdd"), ["optimizer", "sgdd", "adam"]),
    ("optimizer_option", lambda: net().fit(X, Y, optimizer={"name": "adam", "lrr": 1}), ["adam", "lrr"]),
    ("unknown_kernel_init", lambda: gn.Dense(3, kernel_init="foo"), ["initializer", "foo", "glorot_uniform"]),
    ("unknown_model_init", lambda: net(init="he_normall"), ["initializer", "he_normall", "he_normal"]),
    ("unknown_bias_init", lambda: net(bias_init="nope"), ["initializer", "nope", "zeros"]),
    ("negative_lr", lambda: gn.SGD(lr=-0.1), ["lr", "-0.1", ">= 0"]),
    ("negative_lr_in_list", lambda: gn.Adam(lr=[0.1, -0.1]), ["lr", ">= 0"]),
    ("negative_lr_by_name", lambda: net().fit(X, Y, optimizer={"name": "rmsprop", "lr": -1}), ["lr", ">= 0"]),
    ("nan_lr", lambda: gn.SGD(lr=float("nan")), ["lr", "finite"]),
    ("lr_0d_array", lambda: gn.SGD(lr=np.array(-1.0)), ["lr", ">= 0"]),
    ("momentum_one", lambda: gn.SGD(lr=0.1, momentum=1.0), ["momentum", "< 1"]),
    ("beta1", lambda: gn.Adam(beta1=1.5), ["beta1"]),
    ("sgd_form", lambda: gn.SGD(form="tf"), ["form", "tf", "keras"]),
    ("negative_weight_decay", lambda: net().fit(X, Y, weight_decay=-1e-3), ["weight_decay", ">= 0"]),
    ("negative_l1", lambda: net().fit(X, Y, l1=-1.0), ["l1", ">= 0"]),
    ("batch_size_zero", lambda: net().fit(X, Y, batch_size=0), ["batch_size", "0"]),
    ("batch_size_float", lambda: net().fit(X, Y, batch_size=2.5), ["batch_size", "2.5"]),
    ("batch_size_bool", lambda: net().fit(X, Y, batch_size=True), ["batch_size", "True"]),
    ("steps_zero", lambda: net().fit(X, Y, steps=0), ["steps", "0"]),
    ("steps_float", lambda: net().fit(X, Y, steps=1.5), ["steps", "1.5"]),
    ("epochs_negative", lambda: net().fit(X, Y, epochs=-1), ["epochs", "-1"]),
    ("epochs_and_steps", lambda: net().fit(X, Y, epochs=1, steps=1), ["epochs", "steps"]),
    ("log_every", lambda: net().fit(X, Y, log_every=0), ["log_every", "0"]),
    ("metric", lambda: net().fit(X, Y, metrics=["f2"]), ["metric", "f2", "accuracy"]),
    ("callback", lambda: net().fit(X, Y, callbacks=[print]), ["callbacks"]),
    ("lr_list_length", lambda: net(models=3).fit(X, Y, optimizer=gn.SGD(lr=[0.1, 0.2])), ["lr", "3", "[0.1, 0.2]"]),
    ("momentum_list_length", lambda: net(models=3).fit(X, Y, optimizer=gn.SGD(momentum=[0.1, 0.2])),
     ["momentum", "3"]),
    ("weight_decay_list_length", lambda: net(models=3).fit(X, Y, weight_decay=[0.1, 0.2]), ["weight_decay", "3"]),
    ("l1_list_length", lambda: net(models=2).fit(X, Y, l1=[0.1, 0.2, 0.3]), ["l1", "2"]),
    ("seed_list_length", lambda: net(models=3, seed=[1, 2]), ["seed", "models=3"]),
    ("seed_type", lambda: net(seed="abc"), ["seed", "abc"]),
    ("models_zero", lambda: net(models=0), ["models", "0"]),
    ("dtype", lambda: net(dtype="float16"), ["dtype", "float16", "float32"]),
    ("input_shape", lambda: gn.Sequential([gn.Dense(2)], input_shape=(0,)), ["input_shape"]),
    ("dense_units", lambda: gn.Dense(0), ["units", "0"]),
    ("dense_on_images", lambda: gn.Sequential([gn.Dense(2)], input_shape=(3, 3)), ["Dense", "Flatten"]),
    ("dropout_rate", lambda: gn.Dropout(1.0), ["rate", "1.0"]),
    ("batchnorm_momentum", lambda: gn.BatchNorm(momentum=2), ["momentum", "2"]),
    ("normal_std_and_variance", lambda: gn.init.Normal(std=1, variance=1), ["std", "variance"]),
    ("normal_variance", lambda: gn.init.Normal(variance=-1), ["variance", "-1"]),
    ("not_a_layer", lambda: gn.Sequential(["dense"]), ["layers", "dense"]),
    ("early_stopping_monitor", lambda: net().fit(X, Y, callbacks=[gn.EarlyStopping("val_loss")]),
     ["val_loss", "validation_data"]),
    ("step_decay", lambda: gn.StepDecay(step_size=0), ["step_size", "0"]),
]


@pytest.mark.parametrize("fn,names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_naming_the_argument(fn, names):
    one_line_error(fn, *names)


@pytest.mark.parametrize("registry", [activations, losses, optimizers, initializers],
                         ids=lambda r: r.family)
def test_unknown_name_lists_every_valid_name(registry):
    msg = one_line_error(lambda: registry.get("no_such_thing"), registry.family, "no_such_thing")
    for name in registry.names():
        assert name in msg


def test_names_resolve_case_and_dash_insensitively():
    assert isinstance(gn.activations.get("Leaky-ReLU"), gn.activations.LeakyReLU)
    assert isinstance(gn.optimizers.get("ADAM"), gn.Adam)
    assert gn.optimizers.get("nesterov").nesterov and gn.optimizers.get("nesterov").momentum_init == 0.9


# -- loading model files ----------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    model = net(dtype="float64")
    path = model.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return path, arrays


def rewrite(path, arrays, header=None, drop=()):
    arrays = dict(arrays)
    if header is not None:
        arrays["__model__"] = np.array(json.dumps(header))
    for k in drop:
        arrays.pop(k)
    np.savez(path, **arrays)
    return path


def header_of(arrays):
    return json.loads(str(arrays["__model__"]))


@pytest.mark.parametrize("field", ["format", "version", "input_shape", "seeds", "dtype", "ensemble", "layers"])
def test_load_missing_header_field(saved, field):
    path, arrays = saved
    header = header_of(arrays)
    del header[field]
    one_line_error(lambda: gn.Sequential.load(rewrite(path, arrays, header)), field, "missing")


@pytest.mark.parametrize("field,value", [("dtype", 5), ("layers", "dense"), ("input_shape", 2), ("seeds", 0)])
def test_load_wrong_header_field_type(saved, field, value):
    path, arrays = saved
    header = {**header_of(arrays), field: value}
    one_line_error(lambda: gn.Sequential.load(rewrite(path, arrays, header)), field)


@pytest.mark.parametrize("field,value,words", [
    ("format", "keras", ["format", "keras", "glassnet-model"]),
    ("version", 99, ["version", "99"]),
    ("dtype", "float16", ["dtype", "float16"]),
    ("layers", [{"type": "conv9d"}], ["layer", "conv9d"]),
    ("layers", [{"units": 4}], ["type"]),
    ("layers", [{"type": "dense", "name": "dense_0", "units": 4, "colour": "red"}], ["dense", "colour"]),
])
def test_load_wrong_header_field_value(saved, field, value, words):
    path, arrays = saved
    header = {**header_of(arrays), field: value}
    one_line_error(lambda: gn.Sequential.load(rewrite(path, arrays, header)), *words)


def test_load_missing_or_misshapen_array(saved, tmp_path):
    path, arrays = saved
    one_line_error(lambda: gn.Sequential.load(rewrite(path, arrays, drop=["param/dense_1/W"])),
                   "param/dense_1/W", "missing")
    bad = {**arrays, "param/dense_0/b": np.zeros((1, 7))}
    one_line_error(lambda: gn.Sequential.load(rewrite(tmp_path / "b.npz", bad)), "param/dense_0/b", "(1, 7)")


def test_load_header_not_json(saved):
    path, arrays = saved
    bad = {**arrays, "__model__": np.array("{not json")}
    one_line_error(lambda: gn.Sequential.load(rewrite(path, bad)), "__model__", "JSON")


def test_load_non_model_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello, I am not a model\n")
    one_line_error(lambda: gn.Sequential.load(text), "notes.npz", "not a glassnet model file")
    plain = tmp_path / "arrays.npz"
    np.savez(plain, a=np.arange(3))
    one_line_error(lambda: gn.Sequential.load(plain), "arrays.npz", "__model__")
    one_line_error(lambda: gn.Sequential.load(tmp_path / "missing.npz"), "missing.npz", "does not exist")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __model__=np.array([{"format": "glassnet-model"}], dtype=object))
    one_line_error(lambda: gn.Sequential.load(pickled), "pickled.npz", "__model__")


def test_load_refuses_a_pickled_parameter_array(saved):
    path, arrays = saved
    bad = {**arrays, "param/dense_0/W": np.array([None], dtype=object)}
    one_line_error(lambda: gn.Sequential.load(rewrite(path, bad)), "param/dense_0/W", "pickle")
