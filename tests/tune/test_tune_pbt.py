"""Population-based training on the model axis: exploit copies weights and optimizer state,
explore perturbs within bounds, the lineage adds up, diverged members are revived, and (reduced)
PBT beats the best fixed learning rate on the seed-003 8-3-8 autoencoder."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import tune
from glassnet.data import load
from glassnet.errors import GlassnetError
from glassnet.experiments.store import RunStore
from glassnet.initializers import Normal
from glassnet.tune.slots import Slots


def ae_fn(seeds):
    """Seed 003's 8-3-8 sigmoid autoencoder: weights and biases from N(0, 0.01)."""
    return gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")], input_shape=(8,),
                         init=Normal(variance=0.01), bias_init=Normal(variance=0.01), seed=seeds, dtype="float64")


def _ae():
    d = load("identity8", encoding="k", dtype="float64")
    return d.x, d.y


def test_slots_copy_weights_state_and_hyperparameters():
    x, y = _ae()
    model = ae_fn([0, 1, 2])
    tr = gn.Trainer(model, x, y, loss="half_sse", optimizer=gn.SGD(lr=[1.0, 2.0, 3.0], momentum=[0.5, 0.9, 0.0]),
                    batch_size="full", metrics=[], weight_decay=[0.0, 1e-3, 0.0])
    tr.run(5)
    slots = Slots(tr, ["lr", "momentum", "weight_decay"])
    assert slots.get(1) == {"lr": 2.0, "momentum": pytest.approx(0.9), "weight_decay": pytest.approx(1e-3)}
    slots.copy([1], [2])
    for p in model.param_list:
        np.testing.assert_array_equal(p.value[2], p.value[1])
        np.testing.assert_array_equal(tr.optimizer.state[p]["v"][2], tr.optimizer.state[p]["v"][1])
    slots.set(2, {"lr": 0.5, "momentum": 0.1, "weight_decay": 0.01})
    assert slots.get(2) == pytest.approx({"lr": 0.5, "momentum": 0.1, "weight_decay": 0.01})
    assert tr.weight_decay[2] == pytest.approx(0.01)
    # a stopped slot comes back with its learning rate
    tr.state.stop_models(np.array([False, False, True]), "diverged")
    assert tr.optimizer.lr[2] == 0
    slots.reactivate(np.array([False, False, True]))
    assert tr.state.active.all() and tr.optimizer.lr[2] == 0.5 and tr.history.status[2] == "completed"
    before = model.param_list[0].value[2].copy()
    tr.run(1)
    assert not np.array_equal(model.param_list[0].value[2], before)
    # a fresh network in slot 0: the initial weights of its seed, zero velocity
    slots.fresh(0, 7, ae_fn)
    for p, q in zip(model.param_list, ae_fn([7]).param_list):
        np.testing.assert_array_equal(p.value[0], q.value[0])
        assert not tr.optimizer.state[p]["v"][0].any()
    assert model.seeds[0] == 7


def test_exploit_and_explore_follow_the_rules():
    x, y = _ae()
    configs = [{"lr": v, "momentum": 0.5} for v in (1.0, 4.0, 16.0, 64.0)]
    r = tune.pbt(ae_fn, x, y, configs, steps=300, interval=50, loss="half_sse", rng=3,
                 bounds={"lr": (0.1, 100.0)})
    assert list(r.round_steps) == [50, 100, 150, 200, 250]
    assert len(r.events) == 5  # one of four members copies at each round (fraction 0.25)
    for rnd, ev in enumerate(r.events):
        assert ev.step == r.round_steps[rnd]
        # the copier was the worst and the source among the best
        s = r.scores[rnd]
        assert ev.dst == int(np.argmax(s)) and ev.src == int(np.argmin(s))
        assert ev.before == pytest.approx({"lr": r.hyper["lr"][rnd, ev.dst],
                                           "momentum": r.hyper["momentum"][rnd, ev.dst]})
        src_lr, src_mu = r.hyper["lr"][rnd, ev.src], r.hyper["momentum"][rnd, ev.src]
        assert ev.after["lr"] / src_lr == pytest.approx(0.8) or ev.after["lr"] / src_lr == pytest.approx(1.25) \
            or ev.after["lr"] in (0.1, 100.0)
        assert (1 - ev.after["momentum"]) / (1 - src_mu) == pytest.approx(0.8) or \
            (1 - ev.after["momentum"]) / (1 - src_mu) == pytest.approx(1.25)
        assert r.hyper["lr"][rnd + 1, ev.dst] == pytest.approx(ev.after["lr"])
    # the ancestry of the best member covers [0, steps] without gaps
    path = r.ancestry()
    assert path[0][2] == 300 and path[-1][1] == 0
    assert all(a[1] == b[2] for a, b in zip(path, path[1:]))
    starts, lrs = r.schedule("lr")
    assert starts[0] == 0 and lrs[0] == configs[path[-1][0]]["lr"]


def test_a_diverged_member_is_revived_by_copying():
    x, y = _ae()

    def linear(seeds):
        return gn.Sequential([gn.Dense(3), gn.Dense(8)], input_shape=(8,), seed=seeds, dtype="float64")

    r = tune.pbt(linear, x, y, [{"lr": v} for v in (0.1, 0.2, 0.4, 1e3)], steps=60, interval=20, loss="half_sse")
    first = r.events[0]
    assert first.dst == 3 and not np.isfinite(first.dst_score)
    assert r.status[3] == "completed" and np.isfinite(r.final).all()


def test_pbt_beats_the_best_fixed_learning_rate_on_the_838_autoencoder():
    """Reduced: 4 members (lr 8, 16, 32, 64), 1,000 full-batch steps, 2 seeds. Fixed lr 64 stays
    stuck (a start too fast for the sigmoids), yet PBT ends up above it: the best rate grows."""
    x, y = _ae()
    lrs = [8.0, 16.0, 32.0, 64.0]
    fixed, pop, grew = [], [], []
    for s in range(2):
        seeds = [10 * s + i for i in range(4)]
        model = ae_fn(seeds)
        model.fit(x, y, loss="half_sse", optimizer=gn.SGD(lr=lrs), batch_size="full", steps=1000, metrics=[],
                  progress=False)
        fixed.append(np.nanmin(model.evaluate(x, y, "half_sse")["loss"]))
        r = tune.pbt(ae_fn, x, y, [{"lr": v} for v in lrs], steps=1000, interval=100, loss="half_sse", seed=seeds,
                     rng=s)
        pop.append(r.best_score)
        grew.append(r.schedule("lr")[1].max())
    assert np.mean(pop) < np.mean(fixed)
    assert max(grew) > 32.0


def test_lineage_figure_and_store(tmp_path):
    x, y = _ae()
    r = tune.pbt(ae_fn, x, y, [{"lr": v} for v in (1.0, 4.0, 16.0, 32.0)], steps=200, interval=50, loss="half_sse")
    fig = r.draw()
    fig.savefig(tmp_path / "lineage.png", dpi=60)
    assert (tmp_path / "lineage.png").read_bytes()[:4] == b"\x89PNG"
    sweep = r.store(tmp_path / "runs.db")
    with RunStore(tmp_path / "runs.db", create=False) as st:
        runs = st.runs(sweep)
        assert len(runs) == 4 and st.sweep(sweep)["kind"] == "tune"
        assert len(st.sweep(sweep)["config"]["lineage"]) == len(r.events)
        steps, lr = st.curves(runs[0]["id"])["hyper_lr"]
        np.testing.assert_allclose(lr, r.hyper["lr"][:, 0], rtol=1e-6)


@pytest.mark.parametrize("kw, match", [
    (dict(configs=[{"lr": 1.0}]), "at least 2"),
    (dict(fraction=0.9), "fraction"),
    (dict(perturb=[0.0, 2.0]), "perturb"),
    (dict(interval=0), "interval"),
])
def test_bad_arguments(kw, match):
    x, y = _ae()
    args = dict(configs=[{"lr": 1.0}, {"lr": 2.0}], steps=10, interval=5, loss="half_sse")
    args.update(kw)
    with pytest.raises(GlassnetError, match=match):
        tune.pbt(ae_fn, x, y, args.pop("configs"), **args)


def test_momentum_can_grow_from_zero():
    """Every member starts without momentum; a perturbation may give one some (SGD keeps its
    velocity buffer from the start when momentum is tuned), and training goes on with it."""
    x, y = _ae()
    r = tune.pbt(ae_fn, x, y, [{"lr": v, "momentum": 0.0} for v in (1.0, 2.0, 4.0, 8.0)], steps=400, interval=50,
                 loss="half_sse", rng=1)
    assert r.hyper["momentum"][0].max() == 0 and r.hyper["momentum"].max() > 0.19
    assert np.isfinite(r.final).all()


def _dropout_fn(seeds):
    return gn.Sequential([gn.Dense(8, activation="relu"), gn.Dropout(0.2), gn.Dense(2)], input_shape=(4,),
                         seed=list(seeds), dtype="float64")


def test_pbt_perturbs_dropout_and_the_layers_train_with_it():
    rng = np.random.default_rng(0)
    xd, yd = rng.normal(size=(32, 4)), rng.integers(0, 2, 32)
    configs = [{"lr": 0.1, "dropout": d} for d in (0.0, 0.1, 0.3, 0.6)]
    r = tune.pbt(_dropout_fn, xd, yd, configs, steps=60, interval=15, loss="softmax_cross_entropy", rng=1,
                 fraction=0.25)
    drops = r.hyper["dropout"]  # (rounds + 1, M)
    assert drops.shape[1] == 4 and np.allclose(drops[0], [0.0, 0.1, 0.3, 0.6])
    changed = np.flatnonzero((drops[1:] != drops[:-1]).any(axis=0))
    assert changed.size > 0, "no member's dropout was explored"
    assert np.all(drops <= 0.95) and np.all(drops >= 0)
    x, y = _ae()
    with pytest.raises(gn.GlassnetError, match="no Dropout layer"):
        tune.pbt(ae_fn, x, y, [{"lr": 0.5, "dropout": 0.1}, {"lr": 1.0, "dropout": 0.2}], steps=20, interval=10,
                 loss="half_sse")


def test_per_model_dropout_rates_equal_single_runs_and_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    xd, yd = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))

    def build(rate, seed, models=None):
        return gn.Sequential([gn.Dense(6, activation="tanh"), gn.Dropout(rate), gn.Dense(2)], input_shape=(4,),
                             seed=seed, models=models, dtype="float64")

    ens = build([0.1, 0.5], 3, models=2)
    ens.fit(xd, yd, loss="mse", optimizer=gn.SGD(0.1), batch_size=4, steps=12, progress=False)
    for m, rate in enumerate((0.1, 0.5)):
        one = build(rate, 3 + m)
        one.fit(xd, yd, loss="mse", optimizer=gn.SGD(0.1), batch_size=4, steps=12, progress=False)
        for name, value in one.params.items():
            np.testing.assert_array_equal(ens.params[name][m], value)
    ens.save(tmp_path / "drop.npz")
    back = gn.load_model(tmp_path / "drop.npz")
    assert back.layers[1].rates.tolist() == [0.1, 0.5]
    with pytest.raises(gn.GlassnetError, match="Dropout rate"):
        build([0.1, 0.2, 0.3], 0, models=2)
    with pytest.raises(gn.GlassnetError, match="Dropout rate"):
        gn.Dropout([0.1, 1.0])
