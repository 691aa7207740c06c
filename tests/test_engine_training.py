"""Training behaviour: guards, early stopping, history, batching, validation, penalties, callbacks."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Layer


class Recorder(Layer):
    """An identity layer that keeps every training batch it sees (to watch the batching)."""

    kind = "recorder"
    accepts_shared_input = True

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, x, train):
        if train:
            self.batches.append(np.array(x))
        return x

    def backward(self, dy):
        return dy


class Counter(gn.Callback):
    def __init__(self):
        self.counts = {"begin": 0, "step": 0, "log": 0, "epoch": 0, "end": 0}
        self.logged_steps, self.epoch_steps = [], []

    def on_train_begin(self, state):
        self.counts["begin"] += 1

    def on_step_begin(self, state):
        self.counts["step"] += 1

    def on_log(self, state, logs):
        self.counts["log"] += 1
        self.logged_steps.append(state.step)

    def on_epoch_end(self, state):
        self.counts["epoch"] += 1
        self.epoch_steps.append(state.step)

    def on_train_end(self, state):
        self.counts["end"] += 1


def regression(rng, n=20):
    x = rng.standard_normal((n, 3))
    return x, np.tanh(x @ rng.standard_normal((3, 2)))


def mlp(seed=0, models=None, **kw):
    return gn.Sequential([gn.Dense(5, activation="relu"), gn.Dense(2)], input_shape=(3,), seed=seed,
                         models=models, dtype="float64", **kw)


# -- NaN guard --------------------------------------------------------------------------------

def test_nan_guard_stops_only_the_diverging_model(rng):
    x, y = regression(rng)
    lrs = [0.05, 1e6, 0.01]
    ens = mlp([1, 2, 3])
    hist = ens.fit(x, y, loss="mse", optimizer=gn.SGD(lr=lrs), steps=30, batch_size=5, log_every=1)
    assert hist.status == ["completed", "diverged", "completed"]
    stop = hist.stopped_at[1]
    assert 0 < stop < 29 and hist.stopped_at[0] == hist.stopped_at[2] == -1
    curve = hist.curves["loss"][1]
    assert np.all(np.isfinite(curve[:stop])) and not np.isfinite(curve[stop])
    assert np.all(np.isnan(curve[stop + 1:]))  # the curve ends where the model stopped
    assert hist.final("loss")[1] == curve[stop - 1]
    assert hist.steps_done == 30
    for m in (0, 2):  # the rest of the ensemble is untouched by its neighbour's overflow
        single = mlp(m + 1)
        sh = single.fit(x, y, loss="mse", optimizer=gn.SGD(lr=lrs[m]), steps=30, batch_size=5, log_every=1)
        assert sh.status == ["completed"]
        np.testing.assert_allclose(hist.curves["loss"][m], sh["loss"], rtol=1e-12)
        for name, value in single.params.items():
            np.testing.assert_allclose(ens.params[name][m], value, rtol=1e-12, atol=1e-15)


def test_nan_guard_single_model_stops_the_loop(rng):
    x, y = regression(rng)
    model = mlp(2)
    hist = model.fit(x, y, loss="mse", optimizer=gn.SGD(lr=1e6), steps=50, batch_size=5, log_every=1)
    assert hist.status == ["diverged"]
    assert hist.steps_done == hist.stopped_at[0] + 1 < 50
    assert len(hist["loss"]) == hist.steps_done


def test_without_nan_guard_training_runs_to_the_end(rng):
    x, y = regression(rng)
    hist = mlp(2).fit(x, y, loss="mse", optimizer=gn.SGD(lr=1e6), steps=20, batch_size=5, nan_guard=False)
    assert hist.status == ["completed"] and hist.steps_done == 20


# -- early stopping ---------------------------------------------------------------------------

def test_early_stopping_is_per_model(rng):
    """Model 0 (lr 1e-6) improves by less than min_delta: with patience 2 it is seen at steps
    0 (best), 1, 2, 3 (wait 3 > 2) and stops there, after 3 updates. Model 1 improves every step."""
    x, y = regression(rng)
    kw = dict(loss="mse", steps=12, batch_size="full", log_every=1)
    stopper = gn.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    ens = mlp([4, 4])
    hist = ens.fit(x, y, optimizer=gn.SGD(lr=[1e-6, 0.05]), callbacks=[stopper], **kw)
    assert hist.status == ["early_stopped", "completed"]
    assert list(hist.stopped_at) == [3, -1]
    assert np.all(np.isnan(hist.curves["loss"][0, 4:])) and np.all(np.isfinite(hist.curves["loss"][1]))
    frozen = mlp(4)
    frozen.fit(x, y, optimizer=gn.SGD(lr=1e-6), **{**kw, "steps": 3})
    for name, value in frozen.params.items():
        np.testing.assert_allclose(ens.params[name][0], value, rtol=1e-13)
    full = mlp(4)
    full.fit(x, y, optimizer=gn.SGD(lr=0.05), **kw)
    for name, value in full.params.items():
        np.testing.assert_allclose(ens.params[name][1], value, rtol=1e-13)


def test_early_stopping_on_validation_loss_with_mode_max(rng):
    x, y = regression(rng)
    hist = mlp(0).fit(x, y, loss="mse", optimizer=gn.SGD(lr=0.0), steps=10, batch_size="full", log_every=1,
                      validation_data=(x, y), callbacks=[gn.EarlyStopping("val_loss", patience=0, mode="max")])
    # lr 0: val_loss never changes, so "max" never improves after the first log
    assert hist.status == ["early_stopped"] and hist.stopped_at[0] == 1


# -- history ----------------------------------------------------------------------------------

def test_history_shapes_single_and_ensemble(rng):
    x, y = regression(rng)
    single = mlp(0).fit(x, y, loss="mse", steps=23, batch_size=4, log_every=5)
    np.testing.assert_array_equal(single.steps, [0, 5, 10, 15, 20, 22])
    assert single["loss"].shape == (6,) and single.curves["loss"].shape == (1, 6)
    assert isinstance(single.final("loss"), float)
    assert set(single.keys()) == {"loss", "data_loss", "penalty"}
    assert single.history["loss"].shape == (6,)
    ens = mlp(0, models=4).fit(x, y, loss="mse", steps=23, batch_size=4, log_every=5)
    assert ens["loss"].shape == ens.curves["loss"].shape == (4, 6)
    assert ens.final("loss").shape == (4,) and ens.stopped_at.shape == (4,)
    assert ens.status == ["completed"] * 4
    assert "4 models" not in repr(ens) and "6 points over 23 steps" in repr(ens)


def test_default_log_every_is_once_per_epoch(rng):
    x, y = regression(rng, n=10)
    hist = mlp(0).fit(x, y, loss="mse", epochs=4, batch_size=4)  # 3 steps per epoch, 12 steps
    np.testing.assert_array_equal(hist.steps, [0, 3, 6, 9, 11])


def test_classification_logs_accuracy_and_validation(rng):
    x = rng.standard_normal((30, 3))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    hist = gn.Sequential([gn.Dense(3)], input_shape=(3,), seed=0, models=2).fit(
        x, y, loss="softmax_cross_entropy", steps=8, batch_size=10, log_every=2, validation_data=(x[:9], y[:9]))
    assert set(hist.keys()) == {"loss", "data_loss", "penalty", "accuracy", "val_loss", "val_accuracy"}
    for k in hist.keys():
        assert hist[k].shape == (2, 5)
    assert np.all((hist["accuracy"] >= 0) & (hist["accuracy"] <= 1))
    # accuracy on 10-sample batches and 9 validation samples comes in tenths and ninths
    np.testing.assert_allclose(hist["accuracy"] * 10, np.round(hist["accuracy"] * 10), atol=1e-9)
    np.testing.assert_allclose(hist["val_accuracy"] * 9, np.round(hist["val_accuracy"] * 9), atol=1e-9)


def test_logged_losses_are_before_the_update_and_val_matches_evaluate(rng):
    """Full-batch plain SGD: fit(steps=5) equals five fit(steps=1) calls, so the point logged at
    step t must be evaluate() after t single steps (the data loss before that step's update)."""
    x, y = regression(rng)
    xv, yv = regression(np.random.default_rng(7), n=8)
    model = mlp(3)
    hist = model.fit(x, y, loss="half_sse", optimizer=gn.SGD(lr=0.1), steps=5, batch_size="full", log_every=1,
                     validation_data=(xv, yv))
    stepwise = mlp(3)
    for t in range(5):
        assert hist["data_loss"][t] == pytest.approx(stepwise.evaluate(x, y, "half_sse")["loss"], rel=1e-12)
        assert hist["val_loss"][t] == pytest.approx(stepwise.evaluate(xv, yv, "half_sse")["loss"], rel=1e-12)
        stepwise.fit(x, y, loss="half_sse", optimizer=gn.SGD(lr=0.1), steps=1, batch_size="full")
    for name, value in model.params.items():
        np.testing.assert_allclose(stepwise.params[name], value, rtol=1e-13)


def test_penalty_is_half_lambda_sum_w2_plus_l1_on_weights_only(rng):
    x, y = regression(rng)
    wd, l1 = [0.1, 0.0], [0.0, 0.02]
    model = mlp(5, models=2, bias_init=gn.init.Constant(3.0))  # big biases: must not count
    W = [model.params["dense_0.W"].copy(), model.params["dense_1.W"].copy()]
    hist = model.fit(x, y, loss="mse", steps=1, batch_size="full", weight_decay=wd, l1=l1)
    expect = [0.5 * wd[m] * sum((w[m] ** 2).sum() for w in W) + l1[m] * sum(np.abs(w[m]).sum() for w in W)
              for m in range(2)]
    np.testing.assert_allclose(hist.curves["penalty"][:, 0], expect, rtol=1e-13)
    np.testing.assert_allclose(hist.curves["loss"], hist.curves["data_loss"] + hist.curves["penalty"], rtol=1e-14)


def test_weight_decay_step_is_lambda_w_and_skips_biases(rng):
    """With zero data gradient (lr 0.5, targets = outputs) one SGD step shrinks W by (1 - lr*lambda)."""
    x, _ = regression(rng)
    model = gn.Sequential([gn.Dense(2, bias_init=gn.init.Constant(1.0))], input_shape=(3,), seed=0, dtype="float64")
    y = model.predict(x)
    W0, b0 = model.params["dense_0.W"].copy(), model.params["dense_0.b"].copy()
    model.fit(x, y, loss="mse", optimizer=gn.SGD(lr=0.5), weight_decay=0.2, steps=1, batch_size="full")
    np.testing.assert_allclose(model.params["dense_0.W"], W0 * (1 - 0.5 * 0.2), rtol=1e-14)
    np.testing.assert_array_equal(model.params["dense_0.b"], b0)


# -- batching ---------------------------------------------------------------------------------

def test_epochs_and_steps_count_the_same_updates(rng):
    x, y = regression(rng, n=10)
    a, b, ca, cb = mlp(1), mlp(1), Counter(), Counter()
    ha = a.fit(x, y, loss="mse", epochs=3, batch_size=4, callbacks=[ca])
    hb = b.fit(x, y, loss="mse", steps=9, batch_size=4, callbacks=[cb])
    assert ha.steps_done == hb.steps_done == 9
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert ca.counts == {"begin": 1, "step": 9, "log": len(ha.steps), "epoch": 3, "end": 1}
    assert ca.epoch_steps == [2, 5, 8]
    c = Counter()
    mlp(1).fit(x, y, loss="mse", steps=7, batch_size=4, callbacks=[c])
    assert c.counts["epoch"] == 2 and c.counts["step"] == 7
    assert mlp(1).fit(x, y, loss="mse", batch_size=3).steps_done == 4  # neither: one epoch


def test_last_partial_batch_is_used_and_averaged_over_its_own_size(rng):
    """A linear model, half_sse, no shuffle, N = 10, batch 4: batches of 4, 4 and 2, each step
    W -= lr * xb^T (xb W + b - yb) / |b|, worked here by hand."""
    x, y = regression(rng, n=10)
    rec = Recorder()
    model = gn.Sequential([rec, gn.Dense(2)], input_shape=(3,), seed=0, dtype="float64",
                          bias_init=gn.init.Constant(0.1))
    W, b = model.params["dense_0.W"].copy(), model.params["dense_0.b"].copy()
    model.fit(x, y, loss="half_sse", optimizer=gn.SGD(lr=0.3), epochs=1, batch_size=4, shuffle=False)
    assert [len(bt) for bt in rec.batches] == [4, 4, 2]
    for lo, hi in [(0, 4), (4, 8), (8, 10)]:
        g = (x[lo:hi] @ W + b - y[lo:hi]) / (hi - lo)
        W, b = W - 0.3 * x[lo:hi].T @ g, b - 0.3 * g.sum(axis=0)
    np.testing.assert_allclose(model.params["dense_0.W"], W, rtol=1e-13)
    np.testing.assert_allclose(model.params["dense_0.b"], b, rtol=1e-13)


def test_shuffle_per_model_and_per_epoch(rng):
    x = np.arange(10.0)[:, None] * np.ones((1, 3))
    y = np.zeros((10, 2))
    rec = Recorder()
    model = gn.Sequential([rec, gn.Dense(2)], input_shape=(3,), seed=0, models=3, dtype="float64")
    model.fit(x, y, loss="mse", epochs=2, batch_size=4, shuffle=True)
    assert [bt.shape for bt in rec.batches] == [(3, 4, 3), (3, 4, 3), (3, 2, 3)] * 2
    orders = [np.concatenate([bt[:, :, 0] for bt in rec.batches[e * 3:(e + 1) * 3]], axis=1) for e in range(2)]
    for order in orders:
        for m in range(3):  # every sample once per epoch, per model
            np.testing.assert_array_equal(np.sort(order[m]), np.arange(10))
        assert len({tuple(o) for o in order}) == 3  # models see different orders
    assert not np.array_equal(orders[0], orders[1])  # reshuffled each epoch
    rec.batches.clear()
    model.fit(x, y, loss="mse", epochs=1, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([bt[:, 0] for bt in rec.batches]), np.arange(10))
    rec.batches.clear()
    model.fit(x, y, loss="mse", steps=2, batch_size="full", shuffle=True)  # full batch: never reordered
    for bt in rec.batches:
        np.testing.assert_array_equal(bt[..., 0], np.arange(10))


def test_flatten_first_in_an_ensemble_on_shared_images(rng):
    """Regression: Flatten's backward must accept the model axis the Dense after it adds."""
    x = rng.standard_normal((6, 2, 2, 3))
    y = rng.integers(0, 3, 6)
    model = gn.Sequential([gn.Flatten(), gn.Dense(3)], input_shape=(2, 2, 3), seed=0, models=2)
    hist = model.fit(x, y, loss="softmax_cross_entropy", steps=3, batch_size="full")
    assert hist.status == ["completed"] * 2 and model.predict(x).shape == (2, 6, 3)


def test_integer_labels_with_shuffled_minibatches_follow_their_samples(rng):
    """Labels are gathered with the same permutation as x: a separable problem is learnt."""
    x = rng.standard_normal((60, 2))
    y = (x[:, 0] > 0).astype(int)
    model = gn.Sequential([gn.Dense(2)], input_shape=(2,), seed=0, models=3, dtype="float64")
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(lr=0.5), epochs=20, batch_size=7)
    assert np.all(model.evaluate(x, y, "softmax_cross_entropy")["accuracy"] > 0.95)
