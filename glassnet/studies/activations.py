"""Study ``activations`` (seed 000 questions 3-4, seed 004): ReLU, LeakyReLU, ELU, tanh, sigmoid
and linear on the same task; dead units, per-layer gradient norms, training speed and stability,
ELU's mean output; the output layer (tanh range, sigmoid probabilities, softmax); softmax by hand.

Task: the Playground's two-spiral set (standardized), a 2-16-16-16-16-1 network (four hidden
layers, so vanishing gradients can show), Glorot-uniform weights for every activation (Keras'
default, so only the activation changes), sigmoid output, binary cross-entropy, SGD with
momentum — the same budget (rate, batch, steps, initial-weight seeds) for every activation. A
second run of the ReLU-family nets at a large learning rate looks for dying ReLUs. Three small
experiments ask seed 000's question 4 about the output layer: targets in [-1, 1] with a tanh,
sigmoid or linear output; the sigmoid output of the spiral networks read as a probability; a
softmax against three independent sigmoids on three classes.

The analysis (every finding a claim with a premise checked on these measurements) is in
:mod:`glassnet.studies.activations_report`.
"""

from __future__ import annotations

import time

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..diagnostics import compute_gradients, count_dead_units, layer_gradient_norms
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .activations_report import ACTIVATIONS, HIDDEN, SEED_SOFTMAX, analyze
from .base import Study, register_study
from .common import Probe
from .runconfig import DataRecipe

#: ELU, ReLU and the rest are timed on this many values (value and derivative), interleaved
TIMING_SHAPE = (1, 1024, 64)


def _net(act, seeds, width):
    layers = [Dense(width, activation=act) for _ in range(HIDDEN)] + [Dense(1, activation="sigmoid")]
    return Sequential(layers, input_shape=(2,), init="glorot_uniform", seed=list(seeds), dtype="float64")


def _probe(x, y):
    """Per logged step, read-only: this step's gradient norm per layer, the whole training set's
    loss and accuracy, dead/stuck units, the mean output of each hidden layer, how saturated the
    sigmoid output is (share of points within 1e-6 of 0 or 1, median |z| at the output) and how much
    the output varies across the training points (its standard deviation)."""
    bce = losses_mod.get("binary_cross_entropy")
    accuracy = metrics_mod.get("accuracy")

    def fn(model):
        out = {f"grad/{k}": v for k, v in layer_gradient_norms(model).items()}  # this step's gradient
        h = model.prepare_inputs(x)
        for i, layer in enumerate(model.layers[:-1]):
            h = layer.forward(h, False)
            out[f"mean/dense_{i}"] = h.reshape(model.M, -1).mean(axis=1)
        last = model.layers[-1]
        z = np.matmul(h, last.W.value) + last.b.value[:, None, :]
        pred = last.forward(h, False)
        out["loss"], out["accuracy"] = bce.value(pred, y), accuracy(pred, y, bce)
        out["saturated"] = ((pred < 1e-6) | (pred > 1 - 1e-6)).reshape(model.M, -1).mean(axis=1)
        out["pred_spread"] = pred.reshape(model.M, -1).std(axis=1)  # 0: the same output for every point
        out["out_absz"] = np.median(np.abs(z).reshape(model.M, -1), axis=1)
        dead = count_dead_units(model, x)
        stuck = count_dead_units(model, x, family=True)
        out["dead"] = sum(dead.values()) if dead else np.zeros(model.M)
        out["stuck"] = sum(stuck.values()) if stuck else np.zeros(model.M)
        return out

    return fn


def _interleaved(fns: dict, rounds: int, number: int) -> dict:
    """Best seconds per call of each ``fns[name]()``: ``rounds`` rounds that time every function in
    turn (``number`` calls each), so a busy spell on a shared machine hits all of them alike."""
    best = {k: np.inf for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return {k: float(v) for k, v in best.items()}


def _step_fn(act, x, y, width, batch):
    model = _net(act, [0], width)
    xb, yb = x[:batch], y[:batch]
    return lambda: compute_gradients(model, xb, yb, "binary_cross_entropy", train=True)


def _activation_fn(act, z):
    fn = acts.get(act)
    da = np.ones_like(z)

    def run():
        a = fn(z)
        fn.backward(z, a, da)

    return run


def _softmax_example():
    z = np.array(SEED_SOFTMAX["z"])[None, None, :]
    p = acts.get("softmax")(z)[0, 0]
    ce = losses_mod.get("softmax_cross_entropy").value(z, np.array([0]))[0]
    return p, float(ce)


def _range_data(n: int = 100, seed: int = 0):
    """Targets in [-0.9, 0.9]: y = 0.9 sin(pi x), x uniform in [-1, 1]."""
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 1))
    return x, 0.9 * np.sin(np.pi * x)


@register_study
class Activations(Study):
    name = "activations"
    seed_file = "000_16da2bc5b32683df.txt + 004_48be836c1907adbf.txt"
    title = ("ReLU, LeakyReLU, ELU, tanh, sigmoid, linear: speed, stability, dead units, gradient norms, mean output; "
             "output layers; softmax")
    summary = ("seed 000 q3-4 / 004: six activations on one task; dead units, gradient norms, speed, stability, "
               "ELU's mean output; tanh/sigmoid/softmax outputs; softmax")

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "spiral (n=400, noise 0.05), standardized, half for testing",
                "network": f"2-{'-'.join(['16'] * HIDDEN)}-1, sigmoid output", "init": "glorot_uniform",
                "loss": "binary_cross_entropy", "optimizer": "SGD momentum 0.9", "lr": 0.05,
                "batch_size": 32, "steps": 1500 if quick else 8000, "high lr (dying ReLU run)": 0.5,
                "accuracy target": 0.9, "fell back when below best by": 0.05, "width": 16,
                "output-layer runs": "1-16-1 tanh hidden (targets 0.9 sin(pi x), mse); 2-16-3 tanh hidden (blobs, "
                                     "3 classes); SGD momentum 0.9, lr 0.05, batch 32",
                "output-layer steps": 600 if quick else 3000, "timing rounds": 5 if quick else 15}

    def measure(self, s, recorder):
        recipe = DataRecipe("spiral", options={"n": 400, "noise": 0.05, "seed": 0}, validation_split=0.5,
                            split_seed=0, standardize=True)
        data = recipe.load()
        xtr, xte = data.x, data.x_val
        ytr, yte = data.y.astype(float)[:, None], data.y_val.astype(float)[:, None]
        # the small output-layer experiments first: the spiral runs stay the last fits, as before
        output_range, classes = self._range_outputs(s, recorder), self._class_outputs(s, recorder)
        runs = {}
        for act, lr, tag in [(a, s["lr"], "normal") for a in ACTIVATIONS] + \
                            [(a, s["high lr (dying ReLU run)"], "high") for a in ("relu", "leaky_relu", "elu")]:
            model = _net(act, range(s["seeds"]), s["width"])
            probe = Probe(_probe(xtr, ytr))
            hist = model.fit(data.x, data.y, loss="binary_cross_entropy", optimizer=SGD(lr=lr, momentum=0.9),
                             batch_size=s["batch_size"], steps=s["steps"], log_every=max(1, s["steps"] // 100),
                             metrics=[], callbacks=[probe, recorder.callback(recipe, f"{act}, {tag} lr")],
                             progress=False)
            run = {k: v.T for k, v in probe.values.items()}
            run["steps"] = np.array(probe.steps)
            run["status"] = np.array(hist.status)
            run["test_accuracy"] = np.atleast_1d(model.evaluate(xte, yte, "binary_cross_entropy")["accuracy"])
            run["test_pred"] = model.predict(xte).reshape(model.M, -1)   # P(class 1) per test point
            runs[(act, tag)] = run
        z = np.random.default_rng(0).normal(size=TIMING_SHAPE)
        times = _interleaved({a: _step_fn(a, xtr, ytr, s["width"], s["batch_size"]) for a in ACTIVATIONS},
                             s["timing rounds"], 10)
        act_times = _interleaved({a: _activation_fn(a, z) for a in ACTIVATIONS}, s["timing rounds"], 3)
        p, ce = _softmax_example()
        return {"runs": runs, "step_seconds": times, "activation_seconds": act_times,
                "timing_values": int(np.prod(TIMING_SHAPE)), "softmax": p, "cross_entropy": ce,
                "test_labels": yte[:, 0], "range": output_range, "classes": classes}

    def _range_outputs(self, s, recorder) -> dict:
        """Targets in [-1, 1] through a tanh, a sigmoid and a linear output (seed 000, question 4)."""
        recipe = DataRecipe.inline(*_range_data())
        d = recipe.load()
        grid = np.linspace(-3, 3, 121)[:, None]
        out = {}
        for act in ("tanh", "sigmoid", "linear"):
            model = Sequential([Dense(16, activation="tanh"), Dense(1, activation=act)], input_shape=(1,),
                               seed=list(range(s["seeds"])), dtype="float64")
            model.fit(d.x, d.y, loss="mse", optimizer=SGD(lr=0.05, momentum=0.9), batch_size=32,
                      steps=s["output-layer steps"], metrics=[],
                      callbacks=[recorder.callback(recipe, f"{act} output, targets in [-1, 1]")], progress=False)
            pred = model.predict(d.x).reshape(model.M, -1)
            out[act] = {"pred": pred, "grid": model.predict(grid).reshape(model.M, -1)}
        return {"x": d.x[:, 0], "y": d.y[:, 0], "grid_x": grid[:, 0], "outputs": out}

    def _class_outputs(self, s, recorder) -> dict:
        """Three classes through a softmax output or three independent sigmoid outputs."""
        named = DataRecipe("blobs", options={"n": 300, "classes": 3, "noise": 0.5, "seed": 0}, validation_split=0.5,
                           split_seed=0, standardize=True)
        d = named.load()
        onehot = np.eye(3)[d.y]
        inline = DataRecipe.inline(d.x, onehot)  # the same points, one-hot targets for the sigmoids
        out = {}
        for act, loss, recipe, y in (("softmax", "cross_entropy", named, d.y),
                                     ("sigmoid", "binary_cross_entropy", inline, onehot)):
            model = Sequential([Dense(16, activation="tanh"), Dense(3, activation=act)], input_shape=(2,),
                               seed=list(range(s["seeds"])), dtype="float64")
            model.fit(d.x, y, loss=loss, optimizer=SGD(lr=0.05, momentum=0.9), batch_size=32,
                      steps=s["output-layer steps"], metrics=[],
                      callbacks=[recorder.callback(recipe, f"{act} output, 3 classes")], progress=False)
            p = model.predict(d.x_val)                                        # (S, N, 3)
            out[act] = {"sums": p.sum(axis=-1), "accuracy": (p.argmax(axis=-1) == d.y_val).mean(axis=1)}
        return out

    def analyze(self, data, s, report):
        analyze(data, s, report)


__all__ = ["Activations"]
