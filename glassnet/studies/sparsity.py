"""Study ``sparsity`` (seed 000, question 6): three ways to a sparse model, against accuracy.

1. L1 regularization (``fit(l1=...)``): the penalty pulls weights towards zero, but plain
   (sub)gradient steps rarely land exactly on it — so exact zeros and near-zeros are counted.
2. Magnitude pruning (:func:`glassnet.diagnostics.pruning.prune_magnitude`) of the unregularized network to a
   target sparsity, with and without fine-tuning the remaining weights
   (:func:`glassnet.diagnostics.pruning.fine_tune`, pruned weights held at zero).
3. A proximal optimizer (:class:`glassnet.optimizers.ProximalSGD`): the L1 step is a soft
   threshold, which sets small weights to exactly zero.

Task: scikit-learn's 8x8 digits (64 inputs, 10 classes), a 64-64-10 ReLU network, softmax
cross-entropy, SGD, the same seeds for every method. Equal budgets: every final model has had
``steps + fine-tune steps`` updates -- L1 and proximal SGD train that long; the pruned networks are
the baseline after ``steps``, pruned and fine-tuned for ``fine-tune steps``; and the dense reference
is the same baseline trained on, unpruned, for those ``fine-tune steps``.
"""

from __future__ import annotations

import copy

import numpy as np

from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from ..diagnostics.pruning import fine_tune, prune_magnitude
from ..diagnostics.weights import near_zero_share, sparsity
from ..optimizers import ProximalSGD
from .base import Study, register_study
from .common import by_config, grid
from .runconfig import DataRecipe
from .sparsity_report import analyze

NEAR_ZERO = 1e-3


def _net(seeds):
    return Sequential([Dense(64, activation="relu"), Dense(10)], input_shape=(64,), init="he_normal",
                      seed=list(seeds), dtype="float64")


def _acc(model, x, y):
    return np.atleast_1d(model.evaluate(x, y, "softmax_cross_entropy")["accuracy"])


def _fit(model, data, s, recorder, note, **kw):
    """Train on the recipe ``data[0]``'s arrays ``data[1]``, recorded."""
    recipe, train = data
    kw.setdefault("optimizer", SGD(lr=s["lr"]))
    return model.fit(train.x, train.y, loss="softmax_cross_entropy", batch_size=s["batch_size"], metrics=[],
                     callbacks=[recorder.callback(recipe, note)], progress=False, **kw)


def _weights(model) -> np.ndarray:
    """Every weight (biases excluded) of each model, flattened: ``(M, n_weights)``."""
    return np.concatenate([p.value.reshape(model.M, -1) for p in model.param_list if p.regularize], axis=1)


@register_study
class Sparsity(Study):
    name = "sparsity"
    seed_file = "000_16da2bc5b32683df.txt"
    title = "three ways to a sparse model: L1, magnitude pruning (+ fine-tuning), a proximal optimizer"
    summary = "seed 000 q6: L1 vs magnitude pruning (+fine-tuning) vs proximal SGD at equal budgets; sparsity vs accuracy"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "digits 8x8, 70% train / 30% test, stratified",
                "network": "64-64-10 ReLU, softmax cross-entropy", "optimizer": "SGD", "lr": 0.05,
                "batch_size": 32, "steps": 1200 if quick else 6000, "fine-tune steps": 300 if quick else 2000,
                "budget": "steps + fine-tune steps updates for every final model",
                "l1 rates": [1e-4, 1e-3, 3e-3, 1e-2], "prune levels": [0.5, 0.8, 0.9, 0.95],
                "near-zero tolerance": NEAR_ZERO}

    def measure(self, s, recorder):
        digits = {"dtype": "float64", "flat": True, "train_fraction": 0.7, "split_seed": 0}
        recipe = DataRecipe("digits", options={**digits, "part": "train"})
        train = recipe.load()
        test = DataRecipe("digits", options={**digits, "part": "test"}).load()
        xtr, ytr, xte, yte = train.x, train.y, test.x, test.y
        data = (recipe, train)
        S, rates, levels = s["seeds"], s["l1 rates"], s["prune levels"]
        total = s["steps"] + s["fine-tune steps"]
        base = _net(range(S))
        _fit(base, data, s, recorder, "baseline", steps=s["steps"])
        out = {"baseline": {"sparsity": sparsity(base), "near_zero": near_zero_share(base, NEAR_ZERO),
                            "accuracy": _acc(base, xte, yte)}}
        # 2. magnitude pruning of the baseline, then fine-tuning with the mask
        pr = {"sparsity": [], "accuracy": [], "tuned_sparsity": [], "tuned_accuracy": []}
        for level in levels:
            m = copy.deepcopy(base)
            masks = prune_magnitude(m, level)
            pr["sparsity"].append(sparsity(m))
            pr["accuracy"].append(_acc(m, xte, yte))
            fine_tune(m, xtr, ytr, masks, loss="softmax_cross_entropy", optimizer=SGD(lr=s["lr"]),
                      batch_size=s["batch_size"], steps=s["fine-tune steps"], metrics=[], progress=False,
                      callbacks=[recorder.callback(recipe, f"fine-tuning after pruning to {level:g}")])
            pr["tuned_sparsity"].append(sparsity(m))
            pr["tuned_accuracy"].append(_acc(m, xte, yte))
        out["pruning"] = {k: np.array(v) for k, v in pr.items()}
        # the dense reference at the same budget: the baseline trained on, unpruned
        _fit(base, data, s, recorder, "dense reference (the baseline, trained on)", steps=s["fine-tune steps"])
        out["dense"] = {"sparsity": sparsity(base), "near_zero": near_zero_share(base, NEAR_ZERO),
                        "accuracy": _acc(base, xte, yte), "weights": _weights(base)}
        # 1. L1 in the loss, and the same nets with their near-zeros set to exactly zero
        l1v, seeds = grid(rates, S)
        l1 = _net(seeds)
        _fit(l1, data, s, recorder, "L1 in the loss", steps=total, l1=l1v)
        C = len(rates)
        out["l1"] = {"sparsity": by_config(sparsity(l1), C), "near_zero": by_config(near_zero_share(l1, NEAR_ZERO), C),
                     "accuracy": by_config(_acc(l1, xte, yte), C), "weights": by_config(_weights(l1), C)}
        for p in l1.param_list:
            if p.regularize:
                p.value[np.abs(p.value) <= NEAR_ZERO] = 0.0
        out["l1_thresholded"] = {"sparsity": by_config(sparsity(l1), C), "accuracy": by_config(_acc(l1, xte, yte), C)}
        # 3. proximal SGD: soft-thresholding gives exact zeros
        prox = _net(seeds)
        _fit(prox, data, s, recorder, "proximal SGD", steps=total, optimizer=ProximalSGD(lr=s["lr"], l1=l1v))
        out["proximal"] = {"sparsity": by_config(sparsity(prox), C),
                           "near_zero": by_config(near_zero_share(prox, NEAR_ZERO), C),
                           "accuracy": by_config(_acc(prox, xte, yte), C), "weights": by_config(_weights(prox), C)}
        return out

    def analyze(self, d, s, report):
        analyze(d, s, report)
