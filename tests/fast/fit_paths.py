"""Shared by the fast-path test modules: train a small network on one path, compare two runs."""

import warnings

import numpy as np

import glassnet as gn
from glassnet import fast


def train_on(path, net, x, y, steps):
    """Losses (every step) and final parameters of ``steps`` SGD steps (momentum 0.9, batch 8,
    softmax cross-entropy) of ``net`` on ``path``: "reference" or "fast"."""
    with fast.reference() if path == "reference" else fast.forced(True):
        hist = net.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(lr=0.1, momentum=0.9),
                       batch_size=8, steps=steps, log_every=1, progress=False)
    return np.asarray(hist["loss"], dtype=np.float64), {k: np.array(v) for k, v in net.params.items()}


def assert_same_training(run, ref, dtype):
    """``run`` equals ``ref`` (both from :func:`train_on`): float64 to 1e-12, float32 to 1e-4 (a
    few steps of rounding differences)."""
    (loss1, p1), (loss0, p0) = run, ref
    rtol = 1e-12 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(loss1, loss0, rtol=rtol)
    assert p1.keys() == p0.keys()
    for k in p0:
        np.testing.assert_allclose(p1[k], p0[k], rtol=rtol, atol=rtol * max(1.0, float(np.abs(p0[k]).max())))


def fit_counting_segments(model, flag: bool, x, y, record=lambda plan, k: k, **fit_kw):
    """``model.fit(x, y, **fit_kw)`` with the fast path on (``flag``) or off; returns ``(model,
    history, segments)``, ``segments`` holding ``record(plan, k)`` for every compiled segment of
    ``k`` steps (:meth:`glassnet.fast.loop.Plan.run`)."""
    from glassnet.fast import loop  # noqa: PLC0415 - needs numba

    calls = []
    real = loop.Plan.run

    def counting(plan, k):
        calls.append(record(plan, k))
        return real(plan, k)

    loop.Plan.run = counting
    try:
        with fast.forced(flag):
            hist = model.fit(x, y, progress=False, **fit_kw)
    finally:
        loop.Plan.run = real
    return model, hist, calls


def assert_same_fit(a, b, tol):
    """Two :func:`fit_counting_segments` results trained alike: parameters and every history curve
    within ``tol`` (relative and absolute), the same statuses and stopping steps."""
    (ma, ha, _), (mb, hb, _) = a, b
    for name in ma.params:
        np.testing.assert_allclose(ma.params[name], mb.params[name], rtol=tol, atol=tol, err_msg=name)
    for key in ha.keys():
        np.testing.assert_allclose(ha[key], hb[key], rtol=tol, atol=tol, err_msg=key)
    assert list(ha.status) == list(hb.status)
    assert list(ha.stopped_at) == list(hb.stopped_at)


def assert_falls_back_once(monkeypatch, module, broken: str, kernel: str, fit_both):
    """With ``module.<broken>`` raising, training warns exactly once (naming ``kernel``), marks the
    kernel broken and gives the reference's numbers. ``fit_both(dtype)``: (reference run, fast run)."""
    ref, _ = fit_both("float64")
    monkeypatch.setattr(fast, "_broken", set())

    def fail(*args):
        raise RuntimeError("kernel failed (test)")

    monkeypatch.setattr(module, broken, fail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, run = fit_both("float64")
    fast_warnings = [w for w in caught if issubclass(w.category, fast.FastPathWarning)]
    assert len(fast_warnings) == 1 and f"'{kernel}'" in str(fast_warnings[0].message)
    assert kernel in fast._broken and not fast.available(kernel)
    assert_same_training(run, ref, "float64")


def count_calls(monkeypatch, module, names, calls: dict) -> dict:
    """Wrap ``module``'s functions ``names`` so that each call adds one to ``calls[name]`` (set to 0
    here); returns ``calls``. The equality tests check with it that a kernel really ran."""
    for name in names:
        calls[name] = 0
        real = getattr(module, name)

        def counted(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)
        monkeypatch.setattr(module, name, counted)
    return calls
