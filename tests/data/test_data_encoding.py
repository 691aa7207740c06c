"""one_hot / from_one_hot / identity_patterns, including the k-1 examples of seed 003."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.data import decode, from_one_hot, identity_patterns, one_hot
from glassnet.errors import GlassnetError


def test_seed_003_k_minus_1_examples():
    # Seed 003, section 7, equations (1) and (2): the 8th class keeps its 1 in the last of seven
    # columns, the 1st class becomes the all-zeros row.
    assert one_hot([7], 8, encoding="k-1").tolist() == [[0, 0, 0, 0, 0, 0, 1]]
    assert one_hot([0], 8, encoding="k-1").tolist() == [[0, 0, 0, 0, 0, 0, 0]]
    assert one_hot([7], 8).tolist() == [[0, 0, 0, 0, 0, 0, 0, 1]]
    assert one_hot([0], 8).tolist() == [[1, 0, 0, 0, 0, 0, 0, 0]]


def test_k_minus_1_puts_class_c_in_column_c_minus_1():
    y = one_hot(np.arange(5), 5, encoding="k-1")
    assert y.shape == (5, 4)
    assert not y[0].any()
    np.testing.assert_array_equal(y[1:], np.eye(4))


def test_identity_patterns_for_the_838_autoencoder():
    x, y = identity_patterns()
    np.testing.assert_array_equal(x, np.eye(8))
    np.testing.assert_array_equal(y, x)
    x1, y1 = identity_patterns(encoding="k-1", dtype=np.float64)
    assert x1.dtype == y1.dtype == np.float64
    assert y1.shape == (8, 7)
    assert not y1[0].any()
    np.testing.assert_array_equal(y1[7], [0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(from_one_hot(y1, "k-1"), np.arange(8))


def test_one_hot_defaults_shape_and_dtype():
    y = one_hot([2, 0, 1])
    assert y.shape == (3, 3) and y.dtype == np.float32
    assert one_hot([[1, 0], [0, 2]], 4).shape == (2, 2, 4)
    assert one_hot([1.0, 3.0], 4).argmax(axis=1).tolist() == [1, 3]  # whole-valued floats are fine


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 12),
    data=st.data(),
    encoding=st.sampled_from(["k", "k-1"]),
)
def test_round_trip(k, data, encoding):
    labels = data.draw(st.lists(st.integers(0, k - 1), min_size=0, max_size=40))
    y = one_hot(labels, k, encoding=encoding)
    assert y.shape == (len(labels), k if encoding == "k" else k - 1)
    assert set(np.unique(y)) <= {0.0, 1.0}
    ones = [0 if encoding == "k-1" and c == 0 else 1 for c in labels]
    np.testing.assert_array_equal(y.sum(axis=-1), ones)
    np.testing.assert_array_equal(from_one_hot(y, encoding), labels)
    np.testing.assert_array_equal(decode(y, encoding), labels)


def test_decoding_soft_outputs():
    out = np.array([[0.1, 0.7, 0.2], [0.2, 0.3, 0.1], [0.05, 0.1, 0.6]])
    assert from_one_hot(out).tolist() == [1, 1, 2]
    # k-1: nothing reaches the threshold -> the reference class 0; otherwise argmax + 1
    assert from_one_hot(out, "k-1").tolist() == [2, 0, 3]
    assert from_one_hot(out, "k-1", threshold=0.65).tolist() == [2, 0, 0]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: one_hot([0, 3], 3), ["labels", "[0, 3)", "3"]),
        (lambda: one_hot([-1, 0], 2), ["labels", "-1"]),
        (lambda: one_hot([0.5, 1.0]), ["labels", "integers", "0.5"]),
        (lambda: one_hot(["a", "b"]), ["labels", "integers"]),
        (lambda: one_hot([0, 1], 2, encoding="one-hot"), ["encoding", "'k'", "'k-1'", "one-hot"]),
        (lambda: one_hot([0], 1, encoding="k-1"), ["num_classes", ">= 2"]),
        (lambda: one_hot([], encoding="k"), ["num_classes"]),
        (lambda: from_one_hot([[0, 1]], encoding="k+1"), ["encoding", "k+1"]),
        (lambda: from_one_hot(3.0), ["targets", "last axis"]),
        (lambda: identity_patterns(1), ["n", "1"]),
    ],
)
def test_errors_name_argument_and_allowed_values(call, words):
    with pytest.raises(GlassnetError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
