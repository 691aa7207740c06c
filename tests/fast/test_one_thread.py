"""``fast.one_thread()``: compiled work started on a thread stays on it (for jobs that already fill
the cores side by side); the numbers are the same as when the work is split over two threads."""

import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytest.importorskip("numba")
from glassnet.fast import chunks, loop  # noqa: E402 - needs numba


def _fit(M=40):
    """An ensemble big enough that its compiled segments split over two threads."""
    x = np.eye(8)
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")], input_shape=(8,),
                          seed=list(range(M)), dtype="float64")
    with fast.forced(True):  # the compiled segments, whatever GLASSNET_FAST says
        model.fit(x, x, loss="half_sse", optimizer=gn.SGD(0.5), batch_size=8, steps=200, log_every=100, metrics=[],
                  progress=False)
    return np.concatenate([p.value.reshape(M, -1) for p in model.param_list], axis=1)


def _count_pairs(monkeypatch):
    pairs = []
    real = fast.run_pair
    monkeypatch.setattr(fast, "run_pair", lambda fn, a, b: pairs.append(1) or real(fn, a, b))
    return pairs


def test_segments_inside_one_thread_are_not_split_and_train_bit_for_bit_the_same(monkeypatch):
    monkeypatch.setattr(loop, "THREAD_MIN_WORK", 1)
    pairs = _count_pairs(monkeypatch)
    split = _fit()
    assert pairs, "outside one_thread the segments should split over two threads"
    del pairs[:]
    with fast.one_thread():
        alone = _fit()
    assert not pairs
    np.testing.assert_array_equal(alone, split)


def test_one_thread_limits_only_its_own_thread_and_restores_on_exit():
    seen = {}
    with fast.one_thread():
        with fast.one_thread():
            assert not fast.may_split() and chunks.threads() == 1
        assert not fast.may_split()  # the inner block restores the outer one's state
        other = threading.Thread(target=lambda: seen.setdefault("other", fast.may_split()))
        other.start()
        other.join()
    assert seen["other"] and fast.may_split()


def test_one_thread_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with fast.one_thread():
            raise RuntimeError("boom")
    assert fast.may_split()


def test_one_thread_until_lets_work_split_again_once_it_returns_true():
    ready = [False]
    with fast.one_thread(until=lambda: ready[0]):
        assert not fast.may_split() and chunks.threads() == 1
        ready[0] = True
        assert fast.may_split()
    assert fast.may_split()
