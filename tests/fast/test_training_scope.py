"""A training run of a model whose convolutions run pieces of the batch on both cores holds BLAS on
one thread for the whole run (other products would wake OpenBLAS' spinning worker), while the
pieces keep their threads; other models, and the reference path, change no thread setting."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

chunks = pytest.importorskip("glassnet.fast.chunks")
pytest.importorskip("threadpoolctl")


def _blas_threads():
    return max(lib.num_threads for lib in chunks._blas().lib_controllers)


@pytest.fixture
def two_blas_threads():
    with chunks._blas().limit(limits=2):
        if _blas_threads() < 2:
            pytest.skip("BLAS cannot run 2 threads here")
        yield


class Spy(gn.Callback):
    """BLAS' thread count and the pieces' thread count at each step of the run."""

    def __init__(self):
        self.seen = []

    def on_step_begin(self, state):
        self.seen.append((_blas_threads(), chunks.threads()))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 8, 8, 3)).astype("float32"), rng.integers(0, 3, 8)


def _fit(layers, flag):
    x, y = _data()
    spy = Spy()
    model = gn.Sequential(layers, input_shape=x.shape[1:], seed=0)
    with fast.forced(flag):
        model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.01), batch_size=8, steps=3,
                  callbacks=[spy], progress=False)
    return spy.seen


def test_a_conv_model_trains_with_blas_held_on_one_thread_and_gets_it_back(two_blas_threads):
    seen = _fit([gn.Conv2D(4, 3, activation="relu"), gn.Flatten(), gn.Dense(3)], True)
    assert seen and set(seen) == {(1, 2)}
    assert _blas_threads() == 2 and chunks.threads() == 2


@pytest.mark.parametrize("flag", [True, False], ids=["fast", "reference"])
def test_a_dense_model_and_the_reference_path_leave_blas_alone(two_blas_threads, flag):
    dense = _fit([gn.Flatten(), gn.Dense(3)], flag)
    assert set(dense) == {(2, 2)}
    if not flag:
        conv = _fit([gn.Conv2D(4, 3, activation="relu"), gn.Flatten(), gn.Dense(3)], flag)
        assert set(conv) == {(2, 2)}


def test_a_failing_run_still_gives_blas_its_threads_back(two_blas_threads):
    with pytest.raises(RuntimeError, match="boom"):
        with chunks.hold_blas():
            assert _blas_threads() == 1 and chunks.threads() == 2
            with chunks.hold_blas():  # nested: nothing more
                assert _blas_threads() == 1
            raise RuntimeError("boom")
    assert _blas_threads() == 2 and chunks._held == 0
