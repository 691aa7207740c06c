"""Successive halving and Hyperband on the model axis: rung arithmetic, stopping, refilling,
equality with separate fits, the run store, argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import tune
from glassnet.data import load
from glassnet.errors import GlassnetError
from glassnet.experiments.store import RunStore


def _data():
    d = load("spiral", n=200, noise=0.1, seed=0)
    idx = np.random.default_rng(0).permutation(len(d.x))
    return d.x[idx[:150]], d.y[idx[:150]], d.x[idx[150:]], d.y[idx[150:]]


def model_fn(seeds):
    return gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(2)], input_shape=(2,), seed=seeds)


CONFIGS = tune.grid(lr=[0.01, 0.1, 1.0], momentum=[0.0, 0.9], weight_decay=[0.0, 1e-3])


def _sh(**kw):
    x, y, xv, yv = _data()
    args = dict(validation_data=(xv, yv), loss="softmax_cross_entropy", min_steps=10, max_steps=90, eta=3)
    args.update(kw)
    return tune.successive_halving(model_fn, x, y, args.pop("configs", CONFIGS), **args)


def test_grid_and_sample():
    g = tune.grid(lr=[0.1, 1], momentum=[0, 0.9])
    assert g == [{"lr": 0.1, "momentum": 0.0}, {"lr": 0.1, "momentum": 0.9}, {"lr": 1.0, "momentum": 0.0},
                 {"lr": 1.0, "momentum": 0.9}]
    s = tune.sample(50, 1, lr=(1e-3, 1.0, "log"), momentum=[0.0, 0.9], weight_decay=(0.0, 1e-2))
    lr = np.array([c["lr"] for c in s])
    assert len(s) == 50 and lr.min() >= 1e-3 and lr.max() <= 1.0 and {c["momentum"] for c in s} <= {0.0, 0.9}
    assert s == tune.sample(50, 1, lr=(1e-3, 1.0, "log"), momentum=[0.0, 0.9], weight_decay=(0.0, 1e-2))
    with pytest.raises(GlassnetError, match="lr"):
        tune.sample(3, lr=(0.0, 1.0, "log"))


def test_rungs_and_hyperband_brackets():
    assert tune.rung_ages(10, 90, 3) == [10, 30, 90]
    assert tune.rung_ages(10, 100, 3) == [11, 33, 100]   # max_steps * 3^-k: they end at max_steps
    # Li et al. 2018, Table 1 (R = 81, eta = 3): n = 81, 34, 15, 8, 5 at r = 1, 3, 9, 27, 81
    assert tune.hyperband_brackets(81, 1, 3) == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]


def test_synchronous_halving_keeps_a_third_at_each_rung():
    r = _sh()
    reached = np.array([t.rung for t in r.trials])
    # 12 configurations: all reach rung 0 (10 steps), 12 // 3 = 4 rung 1 (30), 4 // 3 = 1 rung 2 (90)
    assert (reached >= 0).sum() == 12 and (reached >= 1).sum() == 4 and (reached >= 2).sum() == 1
    assert [t.status for t in r.trials].count("completed") == 1
    assert all(t.status == "halved" for t in r.trials if t.rung < 2)
    assert r.model_steps == 12 * 10 + 4 * 20 + 1 * 60 == sum(t.trained_steps for t in r.trials)
    assert r.grid_model_steps == 12 * 90 and r.slot_steps == 12 * 90   # frozen slots are still computed
    best = r.best
    assert best.trained_steps == 90 and best.rung == 2
    # the kept ones were the best at each rung
    at0 = {t.index: t.rungs[0][1] for t in r.trials}
    kept = [t.index for t in r.trials if t.rung >= 1]
    assert min(at0[i] for i in kept) >= max(at0[i] for i in at0 if i not in kept)
    # every configuration has its training-loss curve over the steps it trained
    for t in r.trials:
        assert len(t.steps) == len(t.loss) > 0 and t.steps[0] == 0 and t.steps[-1] < t.trained_steps
        assert np.isfinite(t.loss).all()


def test_the_winner_trains_exactly_as_a_separate_fit():
    """A separate fit of the winner, logging as the search does (every min_steps // 4 = 2 steps),
    gives its score and loss exactly: both take the same steps on the same path (a logged step
    runs layer by layer). A fit that logs rarely runs its unlogged steps on the compiled segments
    (glassnet.fast.loop), whose float32 products sum in another order: the same numbers to float32
    rounding, not bit for bit (its weights differ in the last bits)."""
    x, y, xv, yv = _data()
    r = _sh(batch_size=16)
    b = r.best

    def separate(**kw):
        single = model_fn([b.seed])
        opt = gn.SGD(lr=b.config["lr"], momentum=b.config["momentum"])
        gn.Trainer(single, x, y, loss="softmax_cross_entropy", optimizer=opt, batch_size=16,
                   weight_decay=b.config["weight_decay"], metrics=[], **kw).run(90)
        return single.evaluate(xv, yv, "softmax_cross_entropy")

    ev = separate(log_every=2)
    assert (ev["accuracy"], ev["loss"]) == (b.score, b.rungs[-1][2])
    ev = separate()
    np.testing.assert_allclose(ev["loss"], b.rungs[-1][2], rtol=1e-5)


def test_refill_pauses_at_rungs_and_promotes_the_best_third():
    x, y, xv, yv = _data()
    r = _sh(slots=4, batch_size="full")
    assert r.slots == 4 and all(t.rung >= 0 for t in r.trials)
    assert {t.slot for t in r.trials} == {0, 1, 2, 3}
    assert r.model_steps <= r.slot_steps < r.grid_model_steps
    # ASHA's promotion rule: at most floor(n_k / 3) of the n_k configurations that reached rung k go on
    for k in (0, 1):
        n_k = sum(t.rung >= k for t in r.trials)
        assert sum(t.rung >= k + 1 for t in r.trials) <= n_k // 3
    assert all(t.status == ("completed" if t.rung == 2 else "halved") for t in r.trials)
    # a configuration paused at rungs and resumed (perhaps in another slot) trains exactly as alone
    t = max(r.trials, key=lambda t: len(t.segments))
    assert len(t.segments) > 1
    ages = [a for _, _, _, a in t.segments]
    assert ages == [0] + [a for a, _, _ in t.rungs[:len(ages) - 1]]
    single = model_fn([t.seed])
    gn.Trainer(single, x, y, loss="softmax_cross_entropy", batch_size="full", metrics=[],
               optimizer=gn.SGD(lr=t.config["lr"], momentum=t.config["momentum"]),
               weight_decay=t.config["weight_decay"]).run(t.trained_steps)
    assert single.evaluate(xv, yv, "softmax_cross_entropy")["loss"] == t.rungs[-1][2]
    # its training curve runs over the steps it trained, without gaps
    assert t.steps[0] == 0 and t.steps[-1] == t.trained_steps - 1 and np.all(np.diff(t.steps) > 0)


def test_a_diverging_configuration_is_marked_and_its_slot_refilled():
    configs = [{"lr": 1e6}] + [{"lr": v} for v in (0.05, 0.1, 0.2, 0.4, 0.8)]
    x, y, xv, yv = _data()
    r = tune.successive_halving(lambda s: gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(1)],
                                                         input_shape=(2,), seed=s), x, y * 1.0, configs,
                                validation_data=(xv, yv * 1.0), loss="mse", metric="loss", min_steps=5,
                                max_steps=45, slots=3, batch_size="full", order="given")
    assert r.mode == "min"
    assert r.trials[0].status == "diverged"
    assert r.trials[0].trained_steps <= 5
    # its slot went on with the queue: every configuration got a slot and an outcome
    assert all(t.start >= 0 and t.status in ("completed", "halved", "diverged") for t in r.trials)
    assert r.trials[3].slot == r.trials[0].slot and r.trials[3].start == r.trials[0].end


def test_hyperband_runs_its_brackets_side_by_side():
    x, y, xv, yv = _data()
    configs = tune.sample(20, 0, lr=(0.01, 2.0, "log"), momentum=[0.0, 0.9])
    r = tune.hyperband(model_fn, x, y, configs, validation_data=(xv, yv), loss="softmax_cross_entropy",
                       min_steps=10, max_steps=90, eta=3)
    brackets = tune.hyperband_brackets(90, 10, 3)
    assert len(r.trials) == sum(n for n, _ in brackets) == r.slots
    for b, (n, start) in enumerate(brackets):
        members = [t for t in r.trials if t.bracket == b]
        assert len(members) == n and all(t.rungs[0][0] == start for t in members)
        survivors = n
        for _ in r.rung_steps[b][:-1]:
            survivors = max(1, survivors // 3)
        assert sum(t.status == "completed" for t in members) == survivors
        assert r.rung_steps[b][-1] == 90
    with pytest.raises(GlassnetError, match="needs 17 configurations"):
        tune.hyperband(model_fn, x, y, configs[:5], validation_data=(xv, yv), loss="softmax_cross_entropy",
                       min_steps=10, max_steps=90)


def test_result_is_stored_as_one_sweep(tmp_path):
    r = _sh()
    sweep = r.store(tmp_path / "runs.db", command="test")
    with RunStore(tmp_path / "runs.db", create=False) as st:
        s = st.sweep(sweep)
        runs = st.runs(sweep)
        assert s["kind"] == "tune" and s["name"] == "tune:successive-halving" and len(runs) == 12
        for run, t in zip(runs, r.trials):
            assert run["params"]["lr"] == t.config["lr"] and run["params"]["rung"] == t.rung
            assert run["status"] == ("completed" if t.status == "completed" else "early_stopped")
            steps, acc = st.curves(run["id"])["val_accuracy"]
            np.testing.assert_array_equal(steps, [a for a, _, _ in t.rungs])
            np.testing.assert_allclose(acc, [s for _, s, _ in t.rungs], rtol=1e-6)


@pytest.mark.parametrize("kw, field", [
    (dict(configs=[{"lr": 0.1, "beta9": 1}]), "beta9"),
    (dict(configs=[{"lr": 0.1}, {"momentum": 0.9}]), "same hyperparameters"),
    (dict(configs=[{"lr": -1.0}]), ">= 0"),
    (dict(slots=20), "slots=20"),
    (dict(eta=1), "eta"),
    (dict(min_steps=100), "min_steps"),
    (dict(seed=[1, 2]), "seed"),
    (dict(metric="nope"), "nope"),
])
def test_bad_arguments_name_the_field(kw, field):
    with pytest.raises(GlassnetError, match=field):
        _sh(**kw)
