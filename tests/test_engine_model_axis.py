"""The model axis: M networks trained together equal M separate runs, model for model.

Model m of an ensemble has its own seed (initial weights, shuffles, dropout masks), learning
rate and weight decay, so its curves and final parameters must be those of a single run with
that seed and those hyperparameters (float64, 1e-12: only summation order may differ).
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

SEEDS = [3, 5, 7]
LRS = [0.05, 0.2, 0.1]
WDS = [0.0, 1e-2, 1e-3]


def data(rng, n=22):
    x = rng.standard_normal((n, 4))
    y = (x[:, :1] * x[:, 1:2] > 0).astype(int).ravel() + (x[:, 2] > 0.5)
    return x, y


def network(seed, models=None):
    return gn.Sequential([gn.Dense(6, activation="tanh"), gn.Dropout(0.25), gn.Dense(5, activation="relu"),
                          gn.BatchNorm(), gn.Dense(3)], input_shape=(4,), seed=seed, models=models,
                         dtype="float64")


def fit(model, x, y, lr, wd, optimizer="momentum", **kw):
    opt = {"momentum": lambda: gn.SGD(lr=lr, momentum=0.9),
           "adam": lambda: gn.Adam(lr=np.asarray(lr) / 10)}[optimizer]()
    return model.fit(x, y, loss="softmax_cross_entropy", optimizer=opt, weight_decay=wd, batch_size=5,
                     epochs=6, shuffle=True, validation_data=(x[:7], y[:7]), log_every=2, **kw)


def assert_same_run(ens_hist, ens_model, m, single_hist, single_model, rtol=1e-12):
    assert ens_hist.status[m] == single_hist.status[0]
    np.testing.assert_array_equal(ens_hist.steps, single_hist.steps)
    assert set(ens_hist.curves) == set(single_hist.curves)
    for key, curve in single_hist.curves.items():
        np.testing.assert_allclose(ens_hist.curves[key][m], curve[0], rtol=rtol, atol=1e-300, err_msg=key)
    for name, value in single_model.params.items():
        np.testing.assert_allclose(ens_model.params[name][m], value, rtol=rtol, atol=1e-15, err_msg=name)
    for le, ls in zip(ens_model.layers, single_model.layers):
        for k, buf in ls.buffers.items():
            np.testing.assert_allclose(le.buffers[k][m], buf[0], rtol=rtol, atol=1e-15, err_msg=k)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_ensemble_equals_separate_runs(rng, optimizer):
    x, y = data(rng)
    ens = network(SEEDS)
    assert ens.M == 3 and ens.ensemble
    eh = fit(ens, x, y, LRS, WDS, optimizer)
    assert eh.curves["loss"].shape == (3, len(eh.steps))
    assert eh["loss"].shape == (3, len(eh.steps))
    for m, seed in enumerate(SEEDS):
        single = network(seed)
        sh = fit(single, x, y, LRS[m], WDS[m], optimizer)
        assert_same_run(eh, ens, m, sh, single)
    # the models really differ (different seeds and hyperparameters)
    assert not np.allclose(eh.curves["loss"][0], eh.curves["loss"][1])


def test_models_and_int_seed_equals_seed_list(rng):
    x, y = data(rng)
    a, b = network(10, models=3), network([10, 11, 12])
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    ha, hb = fit(a, x, y, LRS, WDS), fit(b, x, y, LRS, WDS)
    for key in ha.curves:
        np.testing.assert_array_equal(ha.curves[key], hb.curves[key])
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.seeds == [10, 11, 12]


def test_models_seed_s_member_m_is_single_seed_s_plus_m(rng):
    ens = network(20, models=4)
    for m in range(4):
        single = network(20 + m)
        for name, value in single.params.items():
            np.testing.assert_array_equal(ens.params[name][m], value)


def test_per_model_data_equals_separate_runs(rng):
    """Each model trains on its own data set (M, N, ...): model m equals a run on data m."""
    M = 3
    x = rng.standard_normal((M, 12, 4))
    y = rng.standard_normal((M, 12, 2))
    kw = dict(loss="mse", weight_decay=WDS, batch_size=5, steps=9, shuffle=True, log_every=1)
    ens = gn.Sequential([gn.Dense(5, activation="elu"), gn.Dense(2)], input_shape=(4,), seed=SEEDS,
                        dtype="float64")
    eh = ens.fit(x, y, optimizer=gn.RMSProp(lr=LRS), **kw)
    for m in range(M):
        single = gn.Sequential([gn.Dense(5, activation="elu"), gn.Dense(2)], input_shape=(4,), seed=SEEDS[m],
                               dtype="float64")
        kw1 = {**kw, "weight_decay": WDS[m]}
        sh = single.fit(x[m], y[m], optimizer=gn.RMSProp(lr=LRS[m]), **kw1)
        assert_same_run(eh, ens, m, sh, single)


def test_ensemble_predict_and_evaluate_are_per_model(rng):
    x, y = data(rng)
    ens = network(SEEDS)
    fit(ens, x, y, LRS, WDS)
    pred = ens.predict(x)
    ev = ens.evaluate(x, y, "softmax_cross_entropy")
    assert pred.shape == (3, len(x), 3)
    assert ev["loss"].shape == (3,) and ev["accuracy"].shape == (3,)
    for m, seed in enumerate(SEEDS):
        single = network(seed)
        fit(single, x, y, LRS[m], WDS[m])
        np.testing.assert_allclose(pred[m], single.predict(x), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ev["loss"][m], single.evaluate(x, y, "softmax_cross_entropy")["loss"],
                                   rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_chunks_of_an_ensemble_are_bit_identical_to_the_whole(dtype):
    """Speed choices switch only at backend.MANY_MODELS, so 6 models trained at once and as two
    chunks of 3 (as a sweep split over workers) give the same bits."""
    x = np.eye(8)

    def train(seeds, lrs):
        model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                              input_shape=(8,), init=gn.init.Normal(std=0.1), seed=seeds, dtype=dtype)
        model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=lrs), steps=50, batch_size="full")
        return model.params

    seeds, lrs = [0, 1, 2, 3, 4, 5], [0.5, 0.5, 0.5, 2.0, 2.0, 2.0]
    whole = train(seeds, lrs)
    first, second = train(seeds[:3], lrs[:3]), train(seeds[3:], lrs[3:])
    for name in whole:
        np.testing.assert_array_equal(whole[name], np.concatenate([first[name], second[name]]))
