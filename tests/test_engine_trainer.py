"""The Trainer: stepwise training equals fit, state is inspectable between steps, frozen is frozen,
and nothing outside the training package loops over batches."""

import ast
import pathlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.training import Trainer


def data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    return x, np.tanh(x @ rng.standard_normal((3, 2)))


def mlp(seed=0, models=None):
    return gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(3,), seed=seed,
                         models=models, dtype="float64")


@pytest.mark.parametrize("optimizer", [lambda: gn.SGD(0.1, momentum=0.9), lambda: gn.Adam(0.01)],
                         ids=["momentum", "adam"])
def test_steps_one_at_a_time_equal_fit(optimizer):
    x, y = data()
    a, b = mlp(), mlp()
    # bit for bit on the reference path (fit's compiled segments equal it to 1e-12: tests/fast)
    with gn.fast.reference():
        a.fit(x, y, loss="mse", optimizer=optimizer(), steps=13, batch_size=6, weight_decay=1e-2)
        trainer = Trainer(b, x, y, loss="mse", optimizer=optimizer(), batch_size=6, weight_decay=1e-2)
        for _ in range(13):
            trainer.step()
    for pa, pb in zip(a.param_list, b.param_list):
        np.testing.assert_array_equal(pa.value, pb.value)
    assert trainer.steps_done == 13 and trainer.epoch == 13 // 4


def test_state_is_readable_between_steps():
    x, y = data()
    trainer = Trainer(mlp(models=2), x, y, loss="mse", optimizer=gn.SGD(0.05, momentum=0.5), batch_size=5,
                      log_every=1)
    logs = trainer.run(3)
    assert set(logs) >= {"loss", "data_loss", "penalty"} and logs["loss"].shape == (2,)
    assert trainer.history.curves["loss"].shape == (2, 3) and trainer.history.steps.tolist() == [0, 1, 2]
    first = trainer.model.layers[0].W
    assert trainer.optimizer.state[first]["v"].shape == first.value.shape  # state keyed by parameter
    trainer.run(2)
    assert trainer.history.steps.tolist() == [0, 1, 2, 3, 4] and trainer.steps_done == 5


def test_stop_training_ends_only_the_current_run():
    class StopAfterTwo(gn.Callback):
        def on_step_begin(self, state):
            if state.step == 1:
                state.stop_training = True

    x, y = data()
    trainer = Trainer(mlp(), x, y, loss="mse", batch_size=5, callbacks=[StopAfterTwo()])
    trainer.run(10)
    assert trainer.steps_done == 2
    trainer.run(3)
    assert trainer.steps_done == 5 and trainer.history.status == ["completed"]


def test_set_batch_size_and_penalties_between_steps():
    x, y = data()
    trainer = Trainer(mlp(), x, y, loss="mse", batch_size=5)
    trainer.run(2)
    trainer.set_batch_size("full")
    trainer.set_penalties(weight_decay=0.1)
    logs = trainer.run(1)
    assert trainer.steps_per_epoch == 1 and logs["penalty"][0] > 0


def test_set_batch_size_starts_a_new_epoch_at_that_step():
    x, y = data(n=20)
    ends = []

    class Ends(gn.Callback):
        def on_epoch_end(self, state):
            ends.append((state.step, state.epoch))

    trainer = Trainer(mlp(), x, y, loss="mse", batch_size=5, callbacks=[Ends()])
    trainer.run(6)                      # epoch 0 ends after step 3; epoch 1 is half done
    trainer.set_batch_size(10)          # the half epoch counts; epoch 2 starts at step 6
    trainer.run(4)
    assert ends == [(3, 0), (7, 2), (9, 3)] and trainer.epoch == 4


def test_registry_lists_aliases():
    from glassnet.activations import activations

    assert "linear" in activations.aliases("identity") and activations.aliases()["linear"] == "identity"


def test_drop_last_skips_a_short_batch():
    x, y = data(n=11)
    trainer = Trainer(mlp(), x, y, loss="mse", batch_size=5, drop_last=True)
    assert trainer.steps_per_epoch == 2
    sizes = []

    class Sizes(gn.Callback):
        def on_step_begin(self, state):
            sizes.append(trainer.batcher._pos)

    trainer.callbacks.append(Sizes())
    trainer.run(4)
    assert trainer.epoch == 2


@pytest.mark.parametrize("optimizer", [
    lambda: gn.SGD(0.1, momentum=0.9, form="keras"), lambda: gn.SGD(0.1, momentum=0.9, nesterov=True, form="keras"),
    lambda: gn.SGD(0.1, momentum=0.9), lambda: gn.Adam(0.05), lambda: gn.AdamW(0.05), lambda: gn.RMSProp(0.05),
    lambda: gn.AdaGrad(0.05), lambda: gn.optimizers.get("ftrl"), lambda: gn.optimizers.get("proximal_sgd")],
    ids=["keras", "keras-nesterov", "pytorch", "adam", "adamw", "rmsprop", "adagrad", "ftrl", "proximal"])
def test_early_stopped_models_stay_exactly_where_they_stopped(optimizer):
    """Issue 10 item 4: Keras-form momentum kept moving frozen models."""
    x, y = data()
    stopper = gn.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)  # stops every model at once
    model = mlp(models=2)
    trainer = Trainer(model, x, y, loss="mse", optimizer=optimizer(), batch_size=5, log_every=4)
    trainer.run(3)                              # build up momentum first
    trainer.callbacks.append(stopper)
    stopper.on_train_begin(trainer.state)
    stopper.best[:] = -np.inf                   # no improvement is possible: both stop at the next log
    trainer.run(1)
    assert trainer.history.status == ["early_stopped"] * 2
    frozen = [p.value.copy() for p in model.param_list]
    trainer.state.active[:] = True              # keep stepping: only the optimizer's mask holds them
    trainer.state.all_stopped = False
    trainer.callbacks.remove(stopper)
    trainer.run(6)
    for p, v in zip(model.param_list, frozen):
        np.testing.assert_array_equal(p.value, v)


def test_ensemble_member_stopped_early_equals_its_single_run():
    x, y = data()
    xv, yv = data(seed=1)
    kw = dict(loss="mse", batch_size=5, steps=40, log_every=2, validation_data=(xv, yv))
    opt = lambda lr: gn.SGD(lr, momentum=0.9, form="keras")  # noqa: E731
    ens = mlp(0, models=2)
    hist = ens.fit(x, y, optimizer=opt([0.3, 0.01]), callbacks=[gn.EarlyStopping(patience=1)], **kw)
    for m, lr in enumerate([0.3, 0.01]):
        single = mlp(m)
        h = single.fit(x, y, optimizer=opt(lr), callbacks=[gn.EarlyStopping(patience=1)], **kw)
        assert h.status[0] == hist.status[m]
        for ps, pe in zip(single.param_list, ens.param_list):
            np.testing.assert_allclose(ps.value[0], pe.value[m], rtol=0, atol=1e-12)


@pytest.mark.parametrize("call, names", [
    (lambda m, x, y: m.fit(x[:0], y[:0], loss="mse"), ["x", "no samples"]),
    (lambda m, x, y: m.evaluate(x[:0], y[:0], "mse"), ["x", "no samples"]),
    (lambda m, x, y: m.fit(x, y, loss="mse", validation_data=(x[:5], y[:4])), ["validation", "5", "4"]),
    (lambda m, x, y: m.fit(x, y, loss="mse", batch_size=None), ["batch_size", "full"]),
    (lambda m, x, y: m.fit(x, y, loss="mse", batch_size="all"), ["batch_size", "full"]),
])
def test_bad_training_input_is_one_line(call, names):
    x, y = data()
    with pytest.raises(GlassnetError) as info:
        call(mlp(), x, y)
    msg = str(info.value)
    assert "\n" not in msg and all(n in msg for n in names), msg


def test_cross_entropy_with_a_column_of_labels_is_refused_clearly():
    x, _ = data()
    labels = (x[:, :1] > 0).astype(np.int64)  # (N, 1), not (N,)
    with pytest.raises(GlassnetError, match="y has shape"):
        mlp().fit(x, labels, loss="softmax_cross_entropy")


def test_engine_errors_carry_the_argument():
    with pytest.raises(GlassnetError) as info:
        gn.SGD(lr=-1)
    assert info.value.field == "lr" and info.value.value == -1
    with pytest.raises(GlassnetError) as info:
        gn.init.Normal(std=0)
    assert info.value.field == "std"


# -- one loop ------------------------------------------------------------------------------------
PACKAGE = pathlib.Path(gn.__file__).parent


def _loops_over_batches(tree) -> list[int]:
    """Lines of ``for``/``while`` loops whose body calls ``.backward(`` and an optimizer step, or
    draws batches (``.next()`` of a batcher): a training loop."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While)):
            calls = {c.func.attr for c in ast.walk(node) if isinstance(c, ast.Call)
                     and isinstance(c.func, ast.Attribute)}
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if ("backward" in calls or "backward" in names) and (
                    {"step", "apply_updates"} & calls or {"opt_step", "step"} & names):
                lines.append(node.lineno)
    return lines


def test_no_module_outside_the_trainer_loops_over_batches():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "training/trainer.py":
            continue
        lines = _loops_over_batches(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            offenders[rel] = lines
    assert offenders == {}, f"training loops outside the Trainer: {offenders}"


def test_the_loop_detector_finds_a_loop():
    src = "for i in range(3):\n    pred = model.forward(x)\n    model.backward(g)\n    opt.step()\n"
    assert _loops_over_batches(ast.parse(src)) == [1]
    assert _loops_over_batches(ast.parse((PACKAGE / "training" / "trainer.py").read_text())) != []


def test_pandas_frames_are_accepted_and_bad_columns_named():
    pd = pytest.importorskip("pandas")
    x, y = data(n=8)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    a, b = mlp(), mlp()
    a.fit(frame, pd.DataFrame(y), loss="mse", steps=3, batch_size=4)
    b.fit(x, y, loss="mse", steps=3, batch_size=4)
    for p, q in zip(a.param_list, b.param_list):
        np.testing.assert_array_equal(p.value, q.value)
    frame.loc[3, "b"] = None
    with pytest.raises(GlassnetError, match="column 'b' has missing values at rows 3"):
        mlp().fit(frame, y, loss="mse")
    with pytest.raises(GlassnetError, match="column 'c' is not numeric"):
        mlp().predict(pd.DataFrame({"a": [1.0], "b": [2.0], "c": ["x"]}))


@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_a_list_of_steps_logs_exactly_those_and_trains_as_every_step(reference):
    """log_every as step numbers: the history holds those steps (and the last), in order, once each;
    the parameters end as with any other schedule (logging observes, it does not change training)."""
    x, y = data()
    a, b = mlp(models=3), mlp(models=3)
    with gn.fast.forced(not reference):
        ha = a.fit(x, y, loss="mse", optimizer=gn.SGD(0.1), steps=50, batch_size="full",
                   log_every=np.r_[30, 0:10:3, 10, 10, 100], progress=False)
        b.fit(x, y, loss="mse", optimizer=gn.SGD(0.1), steps=50, batch_size="full", log_every=7, progress=False)
    np.testing.assert_array_equal(ha.steps, [0, 3, 6, 9, 10, 30, 49])
    for pa, pb in zip(a.param_list, b.param_list):
        np.testing.assert_allclose(pa.value, pb.value, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [[], [-1], [1.5], [True], [3, "4"], "often", 0, 2.0, [[1, 2]], [[1], [1, 2]]])
def test_a_bad_log_schedule_is_one_clear_error(bad):
    x, y = data()
    with pytest.raises(GlassnetError, match="log_every") as err:
        mlp().fit(x, y, steps=3, log_every=bad)
    assert err.value.field == "log_every"
    trainer = Trainer(mlp(), x, y)
    with pytest.raises(GlassnetError, match="log_every"):
        trainer.log_every = bad
