"""Study ``playground-exercises`` (seed 001): the TensorFlow Playground exercises, measured.

1. Learning rate too low / too high: the circle set, the Playground's default 2-4-2-1 tanh
   network, nine learning rates as one ensemble (lr is per model).
2. Batch size 1, 10, 30 (the Playground's choices) at two equal budgets: the same number of
   epochs, and the same number of updates; the full-training-set loss is logged ~100 times.
3. The 2-3-2-1 network with linear activations collapses to one matrix
   (:func:`glassnet.diagnostics.collapse_linear`), which matches least-squares regression.
4. Regression with and without a non-linearity (multi-gaussian set).
5. XOR data: x1, x2 without hidden layer; the X1X2 feature alone; x1, x2 with a hidden layer.

Inputs are standardized with training-set statistics; half of each set is held out for testing.
"""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod
from ..data import standardize
from ..data.toy2d import features
from ..diagnostics import check_collapse, collapse_linear
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, by_config, grid
from .playground_report import analyze
from .runconfig import DataRecipe

LRS = (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
BATCHES = (1, 10, 30)


def _recipe(name, **options) -> DataRecipe:
    """A Playground set, half held out for testing (split seed 0), standardized with the training
    half's statistics."""
    return DataRecipe(name, options={**options, "seed": 0}, validation_split=0.5, split_seed=0, standardize=True)


def _prepared(recipe: DataRecipe):
    """``recipe``'s data: the arrays a fit trains on (``x, y`` as loaded) and float column targets
    ``(N, 1)`` for evaluating: ``(data, xtr, ytr, xte, yte)``."""
    d = recipe.load()
    return d, d.x, d.y.astype(float)[:, None], d.x_val, d.y_val.astype(float)[:, None]


def _mlp(hidden, act, out_act, seeds, n_in=2):
    layers = [Dense(h, activation=act) for h in hidden] + [Dense(1, activation=out_act)]
    return Sequential(layers, input_shape=(n_in,), seed=list(seeds), dtype="float64")


def _full_loss_probe(x, y, loss):
    loss = losses_mod.get(loss)
    return Probe(lambda m: {"loss": loss.value(m.forward(x, False), y)})


def _r2(pred, y):
    """Coefficient of determination per model: 1 - SSE/SST. ``pred (M, N, 1)``, ``y (N, 1)``."""
    sse = ((pred - y) ** 2).sum(axis=(1, 2))
    return 1 - sse / ((y - y.mean()) ** 2).sum()


def measure_lr(s, recorder):
    recipe = _recipe("circle", n=500, noise=0.1)
    d, xtr, ytr, xte, yte = _prepared(recipe)
    lrs, seeds = grid(s["learning rates"], s["seeds"])
    model = _mlp((4, 2), "tanh", "sigmoid", seeds)
    probe = _full_loss_probe(xtr, ytr, "binary_cross_entropy")
    hist = model.fit(d.x, d.y, loss="binary_cross_entropy", optimizer=SGD(lr=lrs), batch_size=10,
                     steps=s["steps"], log_every=max(1, s["steps"] // 200), metrics=[],
                     callbacks=[probe, recorder.callback(recipe, "learning rate sweep")], progress=False)
    ev = model.evaluate(xte, yte, "binary_cross_entropy")
    C = len(s["learning rates"])
    return {"steps": np.array(probe.steps), "loss": by_config(probe.values["loss"].T, C),
            "test_loss": by_config(ev["loss"], C), "test_accuracy": by_config(ev["accuracy"], C),
            "status": by_config(np.array(hist.status), C)}


def _batch_fit(recipe, b, total, s, recorder, note):
    """One ensemble (``s["seeds"]`` seeds) of the 2-4-2-1 net at batch size ``b`` for ``total``
    updates, the full-training-set loss logged at ~100 evenly spaced steps."""
    d, xtr, ytr, xte, yte = _prepared(recipe)
    model = _mlp((4, 2), "tanh", "sigmoid", range(s["seeds"]))
    probe = _full_loss_probe(xtr, ytr, "binary_cross_entropy")
    hist = model.fit(d.x, d.y, loss="binary_cross_entropy", optimizer=SGD(lr=s["batch lr"]), batch_size=b,
                     steps=total, log_every=max(1, total // 100), metrics=[],
                     callbacks=[probe, recorder.callback(recipe, note)], progress=False)
    ev = model.evaluate(xte, yte, "binary_cross_entropy")
    per_epoch = int(np.ceil(len(xtr) / b))
    return {"steps": np.array(probe.steps), "loss": probe.values["loss"].T, "test_loss": ev["loss"],
            "test_accuracy": ev["accuracy"], "updates": int(hist.steps_done), "per_epoch": per_epoch,
            "epochs": hist.steps_done / per_epoch, "status": np.array(hist.status), "seconds": hist.seconds}


def measure_batch(s, recorder):
    """Batch sizes 1, 10, 30 under two budgets: the same number of epochs (batch 1 then makes
    30x the updates of batch 30) and the same number of updates (batch 30 then sees 30x the
    examples)."""
    recipe = _recipe("circle", n=500, noise=0.1)
    n_train = len(_prepared(recipe)[1])
    out = {"epochs": {}, "updates": {}}
    for b in s["batch sizes"]:
        total = s["batch epochs"] * int(np.ceil(n_train / b))
        out["epochs"][b] = _batch_fit(recipe, b, total, s, recorder, f"batch size {b}, {s['batch epochs']} epochs")
    for b in s["batch sizes"]:
        out["updates"][b] = _batch_fit(recipe, b, s["batch updates"], s, recorder,
                                       f"batch size {b}, {s['batch updates']} updates")
    return out


def measure_collapse(s, recorder):
    recipe = _recipe("plane", n=600, noise=0.0)
    d, xtr, ytr, xte, yte = _prepared(recipe)
    model = _mlp((3, 2), None, None, range(s["seeds"]))
    model.fit(d.x, d.y, loss="mse", optimizer=SGD(lr=0.01), batch_size=10, steps=s["steps"], metrics=[],
              callbacks=[recorder.callback(recipe, "linear 2-3-2-1 network")], progress=False)
    W, b = collapse_linear(model)
    gap = check_collapse(model, xte)
    A = np.column_stack([xtr, np.ones(len(xtr))])
    ls = np.linalg.lstsq(A, ytr, rcond=None)[0][:, 0]
    net = model.forward(xte, False)[:, :, 0]                # (S, N): the three layers
    one = np.einsum("nd,sd->sn", xte, W[:, :, 0]) + b       # (S, N): x W + b, one matrix
    return {"W": W[:, :, 0], "b": b[:, 0], "collapse_gap": gap, "lstsq_W": ls[:2], "lstsq_b": ls[2],
            "r2": _r2(model.forward(xte, False), yte), "net_out": net, "collapsed_out": one,
            "layer_shapes": [tuple(p.value.shape[1:]) for p in model.param_list]}


def measure_regression(s, recorder):
    recipe = _recipe("multi_gaussian", n=800, noise=0.0)
    d, xtr, ytr, xte, yte = _prepared(recipe)
    out = {"x": xte, "y": yte[:, 0]}
    for act in ("linear", "tanh", "relu"):
        model = _mlp((8, 8), act, None, range(s["seeds"]))
        model.fit(d.x, d.y, loss="mse", optimizer=SGD(lr=0.03, momentum=0.9), batch_size=10, steps=s["steps"],
                  metrics=[], callbacks=[recorder.callback(recipe, f"regression, {act}")], progress=False)
        pred = model.forward(xte, False)
        out[act] = {"test_mse": losses_mod.get("mse").value(pred, yte), "r2": _r2(pred, yte), "pred": pred[:, :, 0]}
    return out


def _grid_inputs(recipe: DataRecipe, feats, grid):
    """The inputs a model trained on ``recipe`` sees at raw 2-D points ``grid (G, 2)``: the
    features, standardized with the training part's statistics (as the recipe standardizes)."""
    raw = DataRecipe(recipe.table["name"], options={**recipe.table["options"], "features": ["x1", "x2"]},
                     validation_split=0.5, split_seed=0).load()
    scaler = standardize(features(raw.x, feats))[-1]
    return scaler.transform(features(grid, feats)), raw.x_val, raw.y_val


def measure_xor(s, recorder):
    out = {}
    g = np.linspace(-6, 6, 61)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)  # row-major: x2 down the rows
    for name, feats, hidden in (("x1, x2; no hidden layer", ("x1", "x2"), ()),
                                ("x1x2 only; no hidden layer", ("x1x2",), ()),
                                ("x1, x2; hidden layer of 4 tanh", ("x1", "x2"), (4,))):
        recipe = _recipe("xor", n=500, noise=0.0, features=list(feats))
        d, xtr, ytr, xte, yte = _prepared(recipe)
        model = _mlp(hidden, "tanh", "sigmoid", range(s["seeds"]), n_in=len(feats))
        model.fit(d.x, d.y, loss="binary_cross_entropy", optimizer=SGD(lr=0.1), batch_size=10, steps=s["steps"],
                  metrics=[], callbacks=[recorder.callback(recipe, f"xor, {name}")], progress=False)
        ev = model.evaluate(xte, yte, "binary_cross_entropy")
        gx, raw_test, raw_label = _grid_inputs(recipe, feats, grid)
        out[name] = {"test_accuracy": ev["accuracy"], "test_loss": ev["loss"], "params": model.param_count(),
                     "grid_p": model.forward(gx, False)[:, :, 0].reshape(-1, g.size, g.size)}
    out["grid"] = g
    out["test_x"], out["test_y"] = raw_test, raw_label
    return out


@register_study
class PlaygroundExercises(Study):
    name = "playground-exercises"
    seed_file = "001_1fb43f74043566a6.txt"
    title = "TensorFlow Playground exercises: learning rate, batch size, linear collapse, X1X2, regression"
    summary = "seed 001: lr too low/high, batch size, 2-3-2-1 linear net = one matrix, X1X2 on XOR, regression"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "steps": 3000 if quick else 10000, "learning rates": list(LRS),
                "network (lr, batch)": "2-4-2-1 tanh, sigmoid output, BCE, batch 10", "batch sizes": list(BATCHES),
                "batch lr": 0.03, "batch epochs": 15 if quick else 60, "batch updates": 1500 if quick else 6000,
                "data": "circle (n=500, noise 0.1), plane, multi-gaussian, xor; standardized; half held out"}

    def measure(self, s, recorder):
        return {"lr": measure_lr(s, recorder), "batch": measure_batch(s, recorder),
                "collapse": measure_collapse(s, recorder), "regression": measure_regression(s, recorder),
                "xor": measure_xor(s, recorder)}

    def analyze(self, data, settings, report):
        analyze(data, settings, report)
