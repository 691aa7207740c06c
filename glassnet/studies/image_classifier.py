"""Study ``image-classifier`` (seed 002): the Keras-style image homework on procedural shapes.

Data: ``glassnet.data.shapes`` with its low-quality knob (``quality="low"``: blur and pixel
noise, like the seed's "low quality" images), 10 classes, 70% train / 30% test, stratified. The
training images are standardized per pixel with the training part's mean and std (the ``[data]``
table's ``standardize``), and so is the test set, with the same statistics.

The seed's CNN stayed at chance and its authors blamed "a major difference in the pre-processing
between validation and test sets". That cause is a knob here: every network is also evaluated,
after every epoch, on the same test images preprocessed differently (``"test preprocessing
(mismatched)"``: raw pixels in [0, 1], not standardized). Training is the same either way; only
what the test set is fed changes.

Runs, all with Adam (lr 0.001), softmax cross-entropy and the test set evaluated every epoch:

* dense classifier (``glassnet.zoo.seed002_dense``): ReLU vs LeakyReLU vs tanh vs sigmoid at
  batch 64, ReLU at batch 32, LeakyReLU + batch norm; 40 epochs, read at epoch 25 too (the seed's
  25 vs 40: one run read at both epochs is what two runs with the same seed give);
* mini-batch vs one image per update (the seed's "mini-batch vs SGD"): ReLU at batch 64 and at
  batch 1 for the same few epochs, both evaluated every 64 images seen;
* the seed's 5-layer CNN (``glassnet.zoo.seed002_cnn``, L2 on the kernels) with every width
  divided by ``cnn width divisor`` and the same CNN with half the filters, for the same 40
  epochs as the dense models (equal budgets, in epochs).

The seed's parameter-count question is answered on the seed's sizes (32x32x3 input, the CNN's
filters [64, 128, 128, 256, 256] and dense layers [512, 512], the dense net's [512, 256]): those
networks are built, counted and not trained. The trained ones are smaller so that the full study
runs in a few minutes on two cores; the report states every size.
"""

from __future__ import annotations

import numpy as np

from ..data import standardize
from ..diagnostics import count_dead_units
from ..optimizers import Adam
from ..zoo import SEED002_FILTERS, seed002_cnn, seed002_dense
from .base import Study, register_study
from .common import Probe, best_time
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


def _mismatch_probe(x, y):
    """Test loss and accuracy on the differently preprocessed test set, per model, at every
    logged step (inference mode: only reads the model)."""
    from .. import losses as losses_mod  # noqa: PLC0415

    loss = losses_mod.get("softmax_cross_entropy")

    def fn(model):
        logits = model.forward(model.prepare_inputs(x), False)                 # (M, N, classes)
        return {"loss": loss.value(logits, y), "accuracy": (logits.argmax(axis=-1) == y).mean(axis=-1),
                "distinct": np.array([len(np.unique(p)) for p in logits.argmax(axis=-1)])}

    return fn


def _train(model, data, batch, epochs, record, log_every=None, checkpoints=()):
    """Fit with the test set (preprocessed as the training set, and differently) evaluated at
    every logged step (every epoch unless ``log_every``); returns curves on an epoch axis and
    the numbers at each checkpoint epoch and at the end.

    A step is logged before its update, so the point at step ``k`` shows the network after ``k``
    updates (epoch ``k / updates per epoch``); the network after the last update is evaluated
    after training and appended, so every curve ends at exactly ``epochs``."""
    xtr, ytr, xte, yte, xmis = data
    per_epoch = int(np.ceil(len(xtr) / batch))
    mismatch = _mismatch_probe(xmis, yte)
    probe = Probe(mismatch)
    h = model.fit(xtr, ytr, loss="softmax_cross_entropy", optimizer=Adam(1e-3), batch_size=batch, epochs=epochs,
                  validation_data=(xte, yte), log_every=log_every or per_epoch, metrics=["accuracy"],
                  callbacks=[probe, record], progress=False)
    end = model.evaluate(xte, yte, "softmax_cross_entropy")
    last = mismatch(model)
    mis = {k: np.concatenate([v, last[k][None]]) for k, v in probe.values.items()}
    steps = np.append(np.asarray(h.steps), epochs * per_epoch)
    # glass box: how many classes does it still tell apart, and how many ReLU units are dead
    pred = model.forward(model.prepare_inputs(xte), False).argmax(axis=-1)      # (M, N)
    dead = count_dead_units(model, xte)
    units = sum(model.layers[[l.name for l in model.layers].index(k)].output_shape[-1] for k in dead)
    out = {"epochs": steps / per_epoch,
           "val_loss": np.concatenate([h.curves["val_loss"], np.atleast_1d(end["loss"])[:, None]], axis=1),
           "val_accuracy": np.concatenate([h.curves["val_accuracy"], np.atleast_1d(end["accuracy"])[:, None]], axis=1),
           "mismatch_loss": mis["loss"].T,
           "mismatch_accuracy": mis["accuracy"].T, "mismatch_distinct": mis["distinct"].T,
           "long_loss": np.atleast_1d(end["loss"]), "long_accuracy": np.atleast_1d(end["accuracy"]),
           "seconds_per_epoch": h.seconds / epochs, "updates_per_epoch": per_epoch, "batch": batch, "params": model.param_count(),
           "status": np.array(h.status), "distinct_predictions": np.array([len(np.unique(p)) for p in pred]),
           "dead_share": sum(dead.values()) / units if dead else np.zeros(model.M)}
    for e in checkpoints:
        hit = np.flatnonzero(steps == e * per_epoch)
        out[f"loss@{e}"] = out["val_loss"][:, hit[0]] if hit.size else np.full(model.M, np.nan)
        out[f"accuracy@{e}"] = out["val_accuracy"][:, hit[0]] if hit.size else np.full(model.M, np.nan)
    return out


def _update_seconds(s, x, y, batch: int, updates: int, repeat: int = 5) -> float:
    """Seconds per update of one ReLU dense network (seed 0) at ``batch``: training only (no
    test evaluation, no logging in between), the fastest of ``repeat`` timings. A timing loop,
    not an experiment: it gets no recorder callback, so it is not recorded."""
    model = seed002_dense(hidden=tuple(s["dense hidden"]), input_shape=x.shape[1:], classes=s["classes"],
                          activation="relu", seed=0, dtype="float32")

    def run():
        model.fit(x, y, loss="softmax_cross_entropy", optimizer=Adam(1e-3), batch_size=batch, steps=updates,
                  log_every=updates, metrics=[], progress=False)

    return best_time(run, repeat=repeat) / updates


def seed_sizes(classes: int = 10) -> dict:
    """Parameter counts of the seed's networks at the seed's input (32x32x3): built, not trained.

    Per layer of the CNN too, to show where its parameters sit."""
    cnn = seed002_cnn(input_shape=(32, 32, 3), classes=classes, seed=0, dtype="float32")
    half = seed002_cnn(input_shape=(32, 32, 3), classes=classes, halve_filters=True, seed=0, dtype="float32")
    dense = seed002_dense(input_shape=(32, 32, 3), classes=classes, seed=0, dtype="float32")
    layers = [(l.name, type(l).__name__, l.param_count()) for l in cnn.layers]
    return {"cnn": cnn.param_count(), "cnn half": half.param_count(), "dense": dense.param_count(),
            "cnn conv": sum(n for _, kind, n in layers if kind == "Conv2D"),
            "cnn first dense": next(n for _, kind, n in layers if kind == "Dense"),
            "cnn filters": list(SEED002_FILTERS), "cnn dense units": [512, 512], "dense hidden": [512, 256]}


@register_study
class ImageClassifier(Study):
    name = "image-classifier"
    seed_file = "002_e66a75d790413a6e.txt"
    title = ("dense vs CNN image classifier: activations, epochs, batch size, mini-batch vs batch 1, batch norm, "
             "half the filters, parameter counts, a test set preprocessed differently")
    summary = ("seed 002: low-quality shapes; dense activations, 25 vs 40 epochs, batch 32/64/1, batch norm, "
               "CNN vs half filters at equal epochs, parameter counts, mismatched test preprocessing")
    full_seeds = 3
    quick_seeds = 2

    def settings(self, quick, seeds):
        return {"seeds": seeds, "cnn seeds": min(seeds, 2), "data": "shapes", "quality": "low",
                "image size": 8 if quick else 12, "images per class": 24 if quick else 100, "classes": 10,
                "preprocessing": "per-pixel standardization with the training part's mean and std",
                "test preprocessing (mismatched)": "raw pixels in [0, 1], not standardized",
                "dense hidden": [16, 16] if quick else [128, 64], "short epochs": 3 if quick else 25,
                "long epochs": 5 if quick else 40, "batch 1 epochs": 1 if quick else 3,
                "cnn width divisor": 32 if quick else 8,
                "cnn filters": [max(1, f // (32 if quick else 8)) for f in SEED002_FILTERS],
                "cnn dense units": [16, 16] if quick else [64, 64], "cnn l2": 5e-4, "cnn batch": 64,
                "optimizer": "Adam lr 0.001", "loss": "softmax_cross_entropy"}

    def measure(self, s, recorder):
        options = {"n_per_class": s["images per class"], "classes": s["classes"], "size": s["image size"],
                   "quality": s["quality"], "seed": 0, "train_fraction": 0.7, "split_seed": 0}
        recipe = DataRecipe(s["data"], options={**options, "part": "train"}, standardize=True)
        train = recipe.load()
        raw_train = DataRecipe(s["data"], options={**options, "part": "train"}).load()
        test = DataRecipe(s["data"], options={**options, "part": "test"}).load()
        # the test set as a correct pipeline feeds it (training statistics) and as the seed's did not
        _, x_test, _ = standardize(raw_train.x, test.x)
        data = (train.x, train.y, x_test, test.y, test.x)
        shape = train.x.shape[1:]
        seeds = list(range(s["seeds"]))
        short, long_ = s["short epochs"], s["long epochs"]
        dense = {}
        for name, v in DENSE_VARIANTS.items():
            model = seed002_dense(hidden=tuple(s["dense hidden"]), input_shape=shape, classes=s["classes"],
                                  activation=v["activation"], batch_norm=v.get("batch_norm", False), seed=seeds,
                                  dtype="float32")
            dense[name] = _train(model, data, v["batch"], long_, recorder.callback(recipe, name), checkpoints=(short,))
        sgd = {}
        for batch in (64, 1):   # the same images seen, evaluated every 64 of them
            model = seed002_dense(hidden=tuple(s["dense hidden"]), input_shape=shape, classes=s["classes"],
                                  activation="relu", seed=seeds, dtype="float32")
            sgd[batch] = _train(model, data, batch, s["batch 1 epochs"], recorder.callback(recipe, f"relu, batch {batch}"),
                                log_every=max(1, 64 // batch))
            sgd[batch]["seconds_per_update"] = _update_seconds(s, train.x, train.y, batch, 100)
        cnn = {}
        for half in (False, True):
            model = seed002_cnn(filters=tuple(s["cnn filters"]), input_shape=shape, classes=s["classes"],
                                dense_units=tuple(s["cnn dense units"]), l2=s["cnn l2"], halve_filters=half,
                                seed=list(range(s["cnn seeds"])), dtype="float32")
            label = "half filters" if half else "full filters"
            cnn[label] = _train(model, data, s["cnn batch"], long_, recorder.callback(recipe, f"CNN, {label}"),
                                checkpoints=(short,))
        return {"dense": dense, "sgd": sgd, "cnn": cnn, "n_train": len(train.x), "n_test": len(test.x),
                "chance": 1.0 / s["classes"], "seed_sizes": seed_sizes(s["classes"]),
                "pixels": {"standardized test mean": float(x_test.mean()), "standardized test std": float(x_test.std()),
                           "raw test mean": float(test.x.mean()), "raw test std": float(test.x.std())}}

    def analyze(self, data, settings, report):
        analyze(data, settings, report)
