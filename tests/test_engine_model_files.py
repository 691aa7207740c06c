"""Hostile and careless model files (issue 10): refused in one line before anything big is allocated."""

import json
import resource
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError


def header(**over):
    h = {"format": "glassnet-model", "version": 1, "name": "m", "input_shape": [4], "models": 1,
         "ensemble": False, "seeds": [0], "dtype": "float32",
         "layers": [{"type": "dense", "units": 3, "name": "dense_0"}]}
    h.update(over)
    return h


def write(path, head, **arrays):
    np.savez(path, __model__=np.array(json.dumps(head)), **arrays)
    return path


def test_a_tiny_file_declaring_a_huge_network_is_refused_before_allocating(tmp_path):
    """A few hundred bytes declared 200,000 x 200,000 weights: 2.6 GB built and initialised
    before the missing arrays were noticed."""
    head = header(input_shape=[200_000], layers=[{"type": "dense", "units": 200_000, "name": "dense_0"}])
    path = write(tmp_path / "bomb.npz", head)
    assert path.stat().st_size < 2000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GlassnetError, match=r"declared architecture would need .* MiB, over the memory budget"):
        gn.load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: < 200 MiB


def test_a_network_within_budget_but_without_its_arrays_is_refused_by_name(tmp_path, monkeypatch):
    head = header(input_shape=[3000], layers=[{"type": "dense", "units": 3000, "name": "dense_0"}])
    with pytest.raises(GlassnetError, match=r"array 'param/dense_0/W' is missing"):
        gn.load_model(write(tmp_path / "empty.npz", head))
    monkeypatch.setenv("GLASSNET_MAX_BYTES", "20")
    with pytest.raises(GlassnetError, match="GLASSNET_MAX_BYTES"):
        gn.load_model(write(tmp_path / "small.npz", header()))


@pytest.mark.parametrize("field, value, words", [
    ("seeds", [-1], ["seeds", "ints >= 0"]),
    ("seeds", [], ["seeds"]),
    ("input_shape", [0], ["input_shape", ">= 1"]),
    ("input_shape", [2.5], ["input_shape"]),
])
def test_header_fields_are_checked(tmp_path, field, value, words):
    with pytest.raises(GlassnetError) as info:
        gn.load_model(write(tmp_path / "m.npz", header(**{field: value})))
    assert "\n" not in str(info.value) and all(w in str(info.value) for w in words)


def test_npy_renamed_npz_truncated_and_directory_are_one_line(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(GlassnetError, match="single .npy array"):
        gn.load_model(tmp_path / "a.npz")
    model = gn.Sequential([gn.Dense(3)], input_shape=(4,))
    good = model.save(tmp_path / "good.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(GlassnetError, match="cut.npz"):
        gn.load_model(tmp_path / "cut.npz")
    with pytest.raises(GlassnetError, match="not a regular file"):
        gn.load_model(tmp_path)


def test_wrong_shapes_are_named_and_nan_weights_warn(tmp_path):
    head = header()
    with pytest.raises(GlassnetError, match=r"'param/dense_0/W' has shape \(1, 5, 3\).*needs \(1, 4, 3\)"):
        gn.load_model(write(tmp_path / "w.npz", head, **{"param/dense_0/W": np.zeros((1, 5, 3)),
                                                           "param/dense_0/b": np.zeros((1, 3))}))
    w = np.zeros((1, 4, 3))
    w[0, 0, 0] = np.nan
    path = write(tmp_path / "nan.npz", head, **{"param/dense_0/W": w, "param/dense_0/b": np.zeros((1, 3))})
    with pytest.warns(RuntimeWarning, match="dense_0.W hold NaN"):
        gn.load_model(path)


def test_round_trip_still_exact_and_trains(tmp_path):
    model = gn.Sequential([gn.Dense(5, activation="relu"), gn.BatchNorm(), gn.Dense(2)], input_shape=(3,),
                          seed=[1, 2], dtype="float64")
    x = np.random.default_rng(0).standard_normal((10, 3))
    model.fit(x, x[:, :2], loss="mse", steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = gn.load_model(model.save(tmp_path / "m.npz"))
    for a, b in zip(model.param_list, loaded.param_list):
        np.testing.assert_array_equal(a.value, b.value)
        assert b.value.flags.writeable and b.grad.shape == b.value.shape
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    loaded.fit(x, x[:, :2], loss="mse", steps=2)
