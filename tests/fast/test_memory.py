"""glassnet.fast.memory: freed memory kept in the process once a piece-running model trains."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast
from glassnet.fast import memory

glibc = memory._glibc() is not None

FAULTS_OF_A_FRESH_ARRAY = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from glassnet.fast import memory
    if sys.argv[1] == "keep":
        assert memory.keep_freed()
    def touch():
        a = np.empty(48 << 20, np.uint8)
        a[::4096] = 1  # every page
    touch()  # the first time any allocator faults
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    touch()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def faults_of_second_array(mode):
    out = subprocess.run([sys.executable, "-c", FAULTS_OF_A_FRESH_ARRAY, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not glibc, reason="glibc's malloc only")
def test_kept_memory_is_reused_without_page_faults():
    """A 48 MiB array freed and allocated again: fresh pages (faults) by default, the same pages
    once keep_freed() has run."""
    assert faults_of_second_array("default") >= 20   # 2 MiB pages at the least (NumPy asks for huge pages)
    assert faults_of_second_array("keep") <= 5


def test_keep_freed_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_libc", False)
    monkeypatch.setattr(memory, "_kept", False)
    assert memory.keep_freed() is False and memory._kept is False


def _scope_keeps(model, monkeypatch, fast_path=True):
    calls = []
    monkeypatch.setattr(memory, "keep_freed", lambda: calls.append(1) or True)
    with fast.forced(fast_path), fast.training_scope(model):
        pass
    return bool(calls)


@pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")
def test_training_scope_keeps_memory_for_piece_running_models_only(monkeypatch):
    cnn = gn.Sequential([gn.Conv2D(4, 3, activation="relu"), gn.Flatten(), gn.Dense(2)], input_shape=(6, 6, 1))
    mlp = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(2)], input_shape=(3,))
    assert _scope_keeps(cnn, monkeypatch)
    assert not _scope_keeps(mlp, monkeypatch)
    assert not _scope_keeps(cnn, monkeypatch, fast_path=False)  # the reference path frees as NumPy does


def test_a_fit_trains_the_same_after_keep_freed():
    """The setting changes where memory comes from, never a number."""
    x = np.random.default_rng(0).standard_normal((16, 6, 6, 1))
    y = np.arange(16) % 2

    def fit():
        net = gn.Sequential([gn.Conv2D(4, 3, activation="relu"), gn.Flatten(), gn.Dense(2)], input_shape=(6, 6, 1),
                            seed=1)
        net.fit(x, y, loss="softmax_cross_entropy", epochs=2, batch_size=8, progress=False)
        return {k: np.array(v) for k, v in net.params.items()}
    first = fit()
    memory.keep_freed()
    second = fit()
    assert first.keys() == second.keys()
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
