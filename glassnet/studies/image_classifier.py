"""Study ``image-classifier`` (seed 002): the Keras-style image homework on procedural shapes.

Dense classifier (``glassnet.zoo.seed002_dense``): ReLU vs LeakyReLU vs tanh vs sigmoid, batch
64 vs 32, batch normalization; test loss and accuracy after a short and a long run (the seed's
25 vs 40 epochs — one run evaluated at both epochs, which is what two runs with the same seed and
a constant learning rate would give). The 5-layer CNN (``glassnet.zoo.seed002_cnn``, filters
[64, 128, 128, 256, 256], L2 on the kernels) against the same CNN with half the filters.

Data, 70% train / 30% test, stratified: the full study uses ``glassnet.data.shapes`` (10
classes of coloured shapes, like the seed's 10-class colour images) at 16x16 pixels instead of
the seed's 32x32 — a CNN of the seed's size is heavy for NumPy on two cores — and trains the CNN
on at most two seeds. The quick mode uses scikit-learn's 8x8 digits (learnable in seconds) with
small widths and filter counts. The report states the data and sizes it used.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import count_dead_units
from ..optimizers import Adam
from ..zoo import SEED002_FILTERS, seed002_cnn, seed002_dense
from .base import Study, register_study
from .image_report import analyze
from .runconfig import DataRecipe

DENSE_VARIANTS = {
    "relu, batch 64": {"activation": "relu", "batch": 64},
    "leaky_relu, batch 64": {"activation": "leaky_relu", "batch": 64},
    "tanh, batch 64": {"activation": "tanh", "batch": 64},
    "sigmoid, batch 64": {"activation": "sigmoid", "batch": 64},
    "relu, batch 32": {"activation": "relu", "batch": 32},
    "leaky_relu + batch norm, batch 64": {"activation": "leaky_relu", "batch": 64, "batch_norm": True},
}


def _train(model, data, batch, epochs, checkpoint, record):
    """Fit with the test set evaluated every epoch; returns curves and the numbers at the
    checkpoint epoch and at the end. ``record``: the recorder's callback for this fit."""
    xtr, ytr, xte, yte = data
    per_epoch = int(np.ceil(len(xtr) / batch))
    h = model.fit(xtr, ytr, loss="softmax_cross_entropy", optimizer=Adam(1e-3), batch_size=batch, epochs=epochs,
                  validation_data=(xte, yte), log_every=per_epoch, metrics=["accuracy"], callbacks=[record],
                  progress=False)
    end = model.evaluate(xte, yte, "softmax_cross_entropy")
    long_loss, long_acc = np.atleast_1d(end["loss"]), np.atleast_1d(end["accuracy"])
    # glass box: how many classes does it still tell apart, and how many ReLU units are dead
    pred = model.forward(model.prepare_inputs(xte), False).argmax(axis=-1)      # (M, N)
    distinct = np.array([len(np.unique(p)) for p in pred])
    dead = count_dead_units(model, xte)
    units = sum(model.layers[[l.name for l in model.layers].index(k)].output_shape[-1] for k in dead)
    dead_share = sum(dead.values()) / units if dead else np.zeros(model.M)
    hit = np.flatnonzero(h.steps == checkpoint * per_epoch)  # logged after `checkpoint` epochs
    short_loss = h.curves["val_loss"][:, hit[0]] if checkpoint < epochs and hit.size else long_loss
    short_acc = h.curves["val_accuracy"][:, hit[0]] if checkpoint < epochs and hit.size else long_acc
    return {"epochs": h.steps / per_epoch, "val_loss": h.curves["val_loss"], "val_accuracy": h.curves["val_accuracy"],
            "short_loss": short_loss, "short_accuracy": short_acc, "long_loss": long_loss, "long_accuracy": long_acc,
            "seconds_per_epoch": h.seconds / epochs, "params": model.param_count(), "status": np.array(h.status),
            "distinct_predictions": distinct, "dead_share": dead_share}


@register_study
class ImageClassifier(Study):
    name = "image-classifier"
    seed_file = "002_e66a75d790413a6e.txt"
    title = "dense vs CNN image classifier: activations, epochs, batch size, batch norm, half the filters"
    summary = "seed 002: dense ReLU/LeakyReLU/tanh/sigmoid, 25 vs 40 epochs, batch 32 vs 64, batch norm, CNN vs half filters"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "cnn seeds": min(seeds, 2), "data": "digits" if quick else "shapes",
                "image size": 8 if quick else 16, "images per class": None if quick else 150, "classes": 10,
                "dense hidden": [64, 32] if quick else [512, 256], "short epochs": 6 if quick else 25,
                "long epochs": 10 if quick else 40, "cnn filters": [4, 8, 8, 16, 16] if quick else list(SEED002_FILTERS),
                "cnn dense units": [32, 32] if quick else [128, 128], "cnn epochs": 6 if quick else 8,
                "cnn l2": 5e-4, "cnn batch": 64, "optimizer": "Adam lr 0.001", "loss": "softmax_cross_entropy"}

    def measure(self, s, recorder):
        split = {"train_fraction": 0.7, "split_seed": 0}
        if s["data"] != "digits":
            split.update(n_per_class=s["images per class"], classes=s["classes"], size=s["image size"], seed=0)
        recipe = DataRecipe(s["data"], options={**split, "part": "train"})
        train, test = recipe.load(), DataRecipe(s["data"], options={**split, "part": "test"}).load()
        xtr, ytr, xte, yte = data = (train.x, train.y, test.x, test.y)
        shape = xtr.shape[1:]
        dense = {}
        for name, v in DENSE_VARIANTS.items():
            model = seed002_dense(hidden=tuple(s["dense hidden"]), input_shape=shape, classes=s["classes"],
                                  activation=v["activation"], batch_norm=v.get("batch_norm", False),
                                  seed=list(range(s["seeds"])), dtype="float32")
            dense[name] = _train(model, data, v["batch"], s["long epochs"], s["short epochs"],
                                 recorder.callback(recipe, name))
        cnn = {}
        for half in (False, True):
            model = seed002_cnn(filters=tuple(s["cnn filters"]), input_shape=shape, classes=s["classes"],
                                dense_units=tuple(s["cnn dense units"]), l2=s["cnn l2"], halve_filters=half,
                                seed=list(range(s["cnn seeds"])), dtype="float32")
            label = "half filters" if half else "full filters"
            cnn[label] = _train(model, data, s["cnn batch"], s["cnn epochs"], max(1, s["cnn epochs"] // 2),
                                recorder.callback(recipe, f"CNN, {label}"))
        return {"dense": dense, "cnn": cnn, "n_train": len(xtr), "n_test": len(xte)}

    def analyze(self, data, settings, report):
        analyze(data, settings, report)
