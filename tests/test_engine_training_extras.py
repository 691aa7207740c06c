"""Training extras (issue 13): validation_split, gradient clipping, sample/class weights,
ReduceLROnPlateau, best-weight checkpoints and restore_best_weights; BCE averaged over outputs."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.training import Trainer

torch = pytest.importorskip("torch")


def data(n=24, seed=0, k=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    return x, np.tanh(x @ rng.standard_normal((4, k)))


def mlp(seed=0, models=None, out=3, act=None):
    return gn.Sequential([gn.Dense(5, activation="tanh"), gn.Dense(out, activation=act)], input_shape=(4,),
                         seed=seed, models=models, dtype="float64")


def torch_twin(model):
    W1, b1, W2, b2 = (torch.tensor(p.value[0].copy(), requires_grad=True) for p in model.param_list)
    return [W1, b1, W2, b2], lambda x: torch.tanh(x @ W1 + b1) @ W2 + b2


def test_bce_is_the_mean_over_every_element_like_torch():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((1, 6, 3))
    y = (rng.random((6, 3)) > 0.5).astype(float)
    zt = torch.tensor(z[0], requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    ref.backward()
    loss = gn.losses.get("binary_cross_entropy_logits")
    assert loss.value(z, y)[0] == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.grad(z, y)[0], zt.grad.numpy(), rtol=1e-12)
    p = 1 / (1 + np.exp(-z))
    pt = torch.tensor(p[0], requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy(pt, torch.tensor(y))
    ref.backward()
    bce = gn.losses.get("binary_cross_entropy")
    assert bce.value(p, y)[0] == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(bce.grad(p, y)[0], pt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(gn.losses.losses.names()))
def test_sample_values_average_to_the_loss(name):
    loss = gn.losses.get(name)
    rng = np.random.default_rng(2)
    pred = rng.random((2, 5, 3)) * 0.8 + 0.1
    y = rng.integers(0, 3, 5) if loss.task == "multiclass" else rng.random((5, 3))
    np.testing.assert_allclose(loss.sample_values(pred, y).mean(axis=1), loss.value(pred, y), rtol=1e-12)


@pytest.mark.parametrize("how", ["norm", "value"])
def test_gradient_clipping_matches_torch(how):
    x, y = data()
    model = mlp()
    params, net = torch_twin(model)
    opt_t = torch.optim.SGD(params, lr=0.5)
    kw = {"clip_norm": 0.05} if how == "norm" else {"clip_value": 0.01}
    model.fit(x, y, loss="mse", optimizer=gn.SGD(0.5), steps=6, batch_size="full", **kw)
    for _ in range(6):
        opt_t.zero_grad()
        torch.nn.functional.mse_loss(net(torch.tensor(x)), torch.tensor(y)).backward()
        if how == "norm":
            torch.nn.utils.clip_grad_norm_(params, 0.05)
        else:
            torch.nn.utils.clip_grad_value_(params, 0.01)
        opt_t.step()
    for p, t in zip(model.param_list, params):
        np.testing.assert_allclose(p.value[0], t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_clip_norm_is_per_model():
    x, y = data()
    ens = mlp(models=2)
    ens.fit(x, y, loss="mse", optimizer=gn.SGD([0.5, 0.05]), steps=4, batch_size=8, clip_norm=0.1)
    for m, lr in enumerate([0.5, 0.05]):
        single = mlp(seed=m)
        single.fit(x, y, loss="mse", optimizer=gn.SGD(lr), steps=4, batch_size=8, clip_norm=0.1)
        for a, b in zip(single.param_list, ens.param_list):
            np.testing.assert_allclose(a.value[0], b.value[m], rtol=0, atol=1e-13)


def test_sample_and_class_weights_follow_keras():
    """Keras: loss = sum_i w_i l_i / B (divided by the batch size); class weights are per-sample weights."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 4))
    labels = rng.integers(0, 3, 12)
    w = rng.random(12) * 2
    model = mlp()
    params, net = torch_twin(model)
    hist = model.fit(x, labels, loss="softmax_cross_entropy", optimizer=gn.SGD(0.3), steps=3, batch_size="full",
                     sample_weight=w, class_weight={1: 3.0}, log_every=1)
    wt = torch.tensor(w * np.where(labels == 1, 3.0, 1.0))
    opt_t = torch.optim.SGD(params, lr=0.3)
    first = None
    for _ in range(3):
        opt_t.zero_grad()
        per = torch.nn.functional.cross_entropy(net(torch.tensor(x)), torch.tensor(labels), reduction="none")
        loss = (per * wt).sum() / 12
        first = loss.item() if first is None else first
        loss.backward()
        opt_t.step()
    assert hist["data_loss"][0] == pytest.approx(first, rel=1e-12)
    for p, t in zip(model.param_list, params):
        np.testing.assert_allclose(p.value[0], t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sample_weights_follow_the_shuffled_batches():
    """Zero weight on half the samples == training on the other half only, batch by batch."""
    x, y = data(n=10)
    w = np.array([1.0, 0.0] * 5)
    a, b = mlp(), mlp()
    a.fit(x, y, loss="mse", optimizer=gn.SGD(0.2), steps=5, batch_size="full", sample_weight=w)
    b.fit(x[::2], y[::2], loss="mse", optimizer=gn.SGD(0.2 / 2), steps=5, batch_size="full")
    for p, q in zip(a.param_list, b.param_list):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-12)


def test_validation_split_holds_out_the_last_samples():
    x, y = data(n=20)
    a, b = mlp(), mlp()
    ha = a.fit(x, y, loss="mse", steps=5, batch_size=4, validation_split=0.25)
    hb = b.fit(x[:15], y[:15], loss="mse", steps=5, batch_size=4, validation_data=(x[15:], y[15:]))
    np.testing.assert_array_equal(ha["val_loss"], hb["val_loss"])
    with pytest.raises(GlassnetError, match="validation_split"):
        mlp().fit(x, y, loss="mse", validation_split=1.0)
    with pytest.raises(GlassnetError, match="not both"):
        mlp().fit(x, y, loss="mse", validation_split=0.2, validation_data=(x, y))


def test_reduce_lr_on_plateau_per_model():
    x, y = data()
    cb = gn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0, min_lr=0.01)
    opt = gn.SGD([0.1, 0.04])
    mlp(models=2).fit(x, y, loss="mse", optimizer=opt, steps=6, batch_size="full", log_every=1, callbacks=[cb])
    # min_delta 10 means no improvement after the first log; patience 1: halve at every log from the
    # 2nd on, down to min_lr: 0.1 -> 0.05 -> 0.025 -> 0.0125 -> 0.01 and 0.04 -> 0.02 -> 0.01
    np.testing.assert_allclose(opt.lr, [0.01, 0.01])
    assert cb.reductions.tolist() == [4, 2]


def test_restore_best_weights_and_checkpoint(tmp_path):
    x, y = data()
    xv, yv = data(seed=5)
    model = mlp(models=2)
    es = gn.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    ck = gn.ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss")
    hist = model.fit(x, y, loss="mse", optimizer=gn.SGD([2.0, 0.05]), steps=60, batch_size=4, log_every=1,
                     validation_data=(xv, yv), callbacks=[es, ck])
    after = model.evaluate(xv, yv, "mse")["loss"]
    best = np.nanmin(hist["val_loss"], axis=1)
    # each model ends at the parameters of its best logged step (the log is taken before that step's update)
    np.testing.assert_allclose(after, best, rtol=1e-12)
    saved = gn.load_model(tmp_path / "best.npz")
    np.testing.assert_allclose(saved.evaluate(xv, yv, "mse")["loss"], best, rtol=1e-12)
    assert ck.saves >= 2


def test_bad_extras_are_one_line():
    x, y = data()
    for kw, word in [({"clip_norm": 0}, "clip_norm"), ({"clip_value": -1}, "clip_value"),
                     ({"sample_weight": np.ones(3)}, "sample_weight"), ({"sample_weight": -np.ones(24)}, "sample_weight"),
                     ({"class_weight": [1, 2]}, "class_weight")]:
        with pytest.raises(GlassnetError, match=word):
            mlp().fit(x, y, loss="mse", **kw)
    with pytest.raises(GlassnetError, match="factor"):
        gn.ReduceLROnPlateau(factor=2)
    with pytest.raises(GlassnetError, match="does not exist"):
        gn.ModelCheckpoint("/nonexistent-folder/x.npz")
