"""Study ``dropout-cost`` (seed 000, question 7): does dropout slow down training? inference?

Everything is measured with ``time.perf_counter`` on this machine (best of several repeats, the
least disturbed by other work): the time of a training step and of a prediction pass, with and
without dropout, for one network; the time to draw the dropout masks alone (what dropout adds
to a step); and, on an ensemble of seeds, accuracy and epochs to a target accuracy.

Task: scikit-learn's 8x8 digits (64 inputs, 10 classes), a 64-256-256-10 ReLU network with
``Dropout(0.5)`` after each hidden layer (or not), softmax cross-entropy, Adam.
"""

from __future__ import annotations

import time

import numpy as np

from ..layers import Dense, Dropout
from ..model import Sequential
from ..optimizers import Adam
from .base import Study, register_study
from .common import first_above, steps_stats
from .report import choose, curves, fmt, pct, ratio_phrase
from .runconfig import DataRecipe


def _net(dropout: float, seeds, width: int):
    layers = []
    for _ in range(2):
        layers.append(Dense(width, activation="relu"))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(10))
    return Sequential(layers, input_shape=(64,), init="he_normal", seed=list(seeds), dtype="float32")


def _interleaved(fns: dict, repeat: int) -> dict:
    """Time each function ``repeat`` times, taking turns (so a burst of other work on the machine
    hits all of them alike). Returns ``{name: (fastest, median)}`` seconds per unit of work; the
    fastest is the least disturbed, median/fastest - 1 shows how noisy the machine was."""
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            n = fn()
            times[k].append((time.perf_counter() - t0) / n)
    return {k: (float(np.min(v)), float(np.median(v))) for k, v in times.items()}


def _fit_steps(model, x, y, batch, steps):
    """A timing loop, not an experiment: it gets no recorder callback, so it is not recorded."""
    def run():
        model.fit(x, y, loss="softmax_cross_entropy", optimizer=Adam(1e-3), batch_size=batch, steps=steps,
                  log_every=steps, metrics=[], progress=False)
        return steps
    return run


def _predict(model, x, number=3):
    def run():
        for _ in range(number):
            model.predict(x)
        return number
    return run


def _dropout_layers(batch, width, rate, number=50):
    """What dropout adds to a step: the forward (draw a mask, multiply) and backward (multiply)
    of the network's two Dropout layers, run on their own."""
    layer = Sequential([Dropout(rate)], input_shape=(width,), seed=0, dtype="float32")
    x = np.ones((1, batch, width), np.float32)

    def run():
        for _ in range(number):
            for _ in range(2):
                layer.backward(layer.forward(x, True))
        return number
    return run


@register_study
class DropoutCost(Study):
    name = "dropout-cost"
    seed_file = "000_16da2bc5b32683df.txt"
    title = "the cost of dropout at training and at inference time, measured"
    summary = "seed 000 q7: dropout's measured training and inference time and accuracy, with and without"

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "digits 8x8 (1,797 images), 70% train / 30% test, stratified",
                "network": "64-256-256-10 ReLU", "dropout rate": 0.5, "optimizer": "Adam lr 0.001",
                "batch_size": 64, "epochs": 8 if quick else 60, "timing steps": 10,
                "timing repeats": 15 if quick else 40, "width": 256, "accuracy target": 0.95}

    def measure(self, s, recorder):
        digits = {"flat": True, "train_fraction": 0.7, "split_seed": 0}
        recipe = DataRecipe("digits", options={**digits, "part": "train"})
        train, test = recipe.load(), DataRecipe("digits", options={**digits, "part": "test"}).load()
        xtr, ytr, xte, yte = train.x, train.y, test.x, test.y
        out = {}
        for rate in (0.0, s["dropout rate"]):
            model = _net(rate, range(s["seeds"]), s["width"])
            h = model.fit(xtr, ytr, loss="softmax_cross_entropy", optimizer=Adam(1e-3), batch_size=s["batch_size"],
                          epochs=s["epochs"], validation_data=(xte, yte), metrics=["accuracy"],
                          callbacks=[recorder.callback(recipe, f"dropout {rate:g}")], progress=False)
            train_eval = model.evaluate(xtr, ytr, "softmax_cross_entropy")
            test_eval = model.evaluate(xte, yte, "softmax_cross_entropy")
            out[rate] = {"steps": h.steps, "epoch_steps": int(np.ceil(len(xtr) / s["batch_size"])),
                         "val_accuracy": h.curves["val_accuracy"], "val_loss": h.curves["val_loss"],
                         "train_accuracy": np.atleast_1d(train_eval["accuracy"]),
                         "test_accuracy": np.atleast_1d(test_eval["accuracy"])}
        # timing: one network each, same seed, measured in turns
        one = {rate: _net(rate, [0], s["width"]) for rate in out}
        fns = {}
        for rate, m in one.items():
            fns[("step", rate)] = _fit_steps(m, xtr, ytr, s["batch_size"], s["timing steps"])
            fns[("predict", rate)] = _predict(m, xte)
        fns["dropout layers"] = _dropout_layers(s["batch_size"], s["width"], s["dropout rate"])
        t = _interleaved(fns, s["timing repeats"])
        for rate in out:
            out[rate]["step_seconds"], out[rate]["step_median"] = t[("step", rate)]
            out[rate]["predict_seconds"], out[rate]["predict_median"] = t[("predict", rate)]
        return {"runs": out, "dropout_layer_seconds": t["dropout layers"][0], "n_test": len(xte)}

    def analyze(self, data, s, report):
        none, drop = data["runs"][0.0], data["runs"][s["dropout rate"]]
        S, target = s["seeds"], s["accuracy target"]
        tn, td = none["step_seconds"] * 1e6, drop["step_seconds"] * 1e6
        pn, pd = none["predict_seconds"] * 1e6, drop["predict_seconds"] * 1e6
        mask = data["dropout_layer_seconds"] * 1e6
        extra = td - tn
        # how noisy the machine was: median over fastest, for the measurements being compared
        noise_t = max(r["step_median"] / r["step_seconds"] - 1 for r in (none, drop))
        noise_p = max(r["predict_median"] / r["predict_seconds"] - 1 for r in (none, drop))
        report.number("timing_noise.train", noise_t)
        for key, v in (("train_step_us.none", tn), ("train_step_us.dropout", td), ("predict_us.none", pn),
                       ("predict_us.dropout", pd), ("mask_us", mask)):
            report.number(key, v)
        slower = td > 1.05 * tn
        head = (f"Training: one step took {fmt(td)} us with dropout and {fmt(tn)} us without "
                f"({ratio_phrase(td, tn, 'slower', 'faster', 'the same speed')}" + (f", +{fmt(extra)} us" if extra > 0 else "")
                + f"; repeats varied by up to {noise_t:.0%})")
        report.claim("dropout.slows_training", slower,
                     head + ": dropout slowed each training step.",
                     head + ". Dropout added no measurable time per step here (less than 5%, while the masks alone "
                            f"take {fmt(mask)} us).",
                     {"with": td, "without": tn, "noise": noise_t},
                     seed="dropout slows down training")
        if extra > 0:
            share = mask / extra
            report.claim("dropout.masks_are_cost", 0.5 <= share <= 1.5,
                         f"The two Dropout layers on their own (draw a Bernoulli mask, multiply forward and backward) "
                         f"take {fmt(mask)} us per step, {pct(share, 0)} of that extra time: the masks are the cost.",
                         f"The two Dropout layers on their own (draw a Bernoulli mask, multiply forward and backward) "
                         f"take {fmt(mask)} us per step, {pct(share, 0)} of that extra time, so timing noise or other "
                         "overhead is a large part of the difference.",
                         {"mask": mask, "extra": extra})
        ratio = pd / pn
        report.claim(
            "dropout.no_inference_cost", abs(ratio - 1) <= max(0.1, noise_p),
            f"Inference: predicting the {data['n_test']} test images took {fmt(pd)} us with dropout layers and "
            f"{fmt(pn)} us without (ratio {ratio:.2f}): no measurable cost (the repeats themselves varied by "
            f"{noise_p:.0%}): at inference a Dropout layer returns its input unchanged and draws no mask.",
            f"Inference: predicting the {data['n_test']} test images took {fmt(pd)} us with dropout layers and "
            f"{fmt(pn)} us without (ratio {ratio:.2f}): a {abs(ratio - 1):.0%} difference, more than the {noise_p:.0%} "
            "spread between repeats, and more than expected from an identity layer.",
            {"with": pd, "without": pn, "noise": noise_p},
            seed="dropout has no impact on the predictions, since it is only used during training")
        acc = {k: (float(np.mean(r["train_accuracy"])), float(np.mean(r["test_accuracy"]))) for k, r in
               (("none", none), ("dropout", drop))}
        gap = {k: a[0] - a[1] for k, a in acc.items()}
        report.number("test_accuracy.none", acc["none"][1])
        report.number("test_accuracy.dropout", acc["dropout"][1])
        head = (f"Accuracy after {s['epochs']} epochs (mean of {S} seeds): test {pct(acc['dropout'][1])} with dropout vs "
                f"{pct(acc['none'][1])} without; train-test gap {100 * gap['dropout']:.1f} vs {100 * gap['none']:.1f} points")
        report.claim("dropout.narrows_gap", gap["dropout"] < gap["none"] - 0.01,
                     head + ": dropout narrowed the gap (less overfitting).",
                     head + ": dropout did not narrow the gap by a point or more here.",
                     {"gap_dropout": gap["dropout"], "gap_none": gap["none"]})
        ep = {}
        for k, r in (("none", none), ("dropout", drop)):
            reach = [first_above(r["steps"], r["val_accuracy"][j], target) for j in range(S)]
            med, n = steps_stats(reach)
            ep[k] = None if med is None else med / r["epoch_steps"]
        report.number("epochs_to_target.none", ep["none"])
        report.number("epochs_to_target.dropout", ep["dropout"])
        if ep["none"] is not None and ep["dropout"] is not None:
            conv = (f"dropout needed {fmt(ep['dropout'])} epochs to reach {pct(target, 0)} test accuracy and no dropout "
                    f"{fmt(ep['none'])} ({ratio_phrase(ep['dropout'], ep['none'], 'more', 'fewer', 'about as many')})")
        else:
            conv = (f"epochs to {pct(target, 0)} test accuracy: dropout {fmt(ep['dropout'])}, no dropout {fmt(ep['none'])} "
                    "(— = not reached)")
        more_epochs = ep["dropout"] is None or (ep["none"] is not None and ep["dropout"] > 1.05 * ep["none"])
        decided = ep["none"] is not None or ep["dropout"] is not None
        report.claim("dropout.more_epochs", decided and more_epochs,
                     f"Convergence: {conv}: dropout also cost training time in the number of epochs needed.",
                     f"Convergence: {conv}: "
                     + choose(decided, "dropout did not need more epochs.", "neither reached the target, so this run "
                                                                            "cannot compare epochs."),
                     {"dropout": ep["dropout"], "none": ep["none"]})
        report.set_summary(["variant", "train step (us)", "predict test set (us)", "test accuracy", "train-test gap (points)",
                            f"epochs to {pct(target, 0)} test acc"],
                           [["no dropout", tn, pn, pct(acc["none"][1]), 100 * gap["none"], ep["none"]],
                            [f"dropout {s['dropout rate']}", td, pd, pct(acc["dropout"][1]), 100 * gap["dropout"],
                             ep["dropout"]]])
        report.figure("val_accuracy.png", curves(none["steps"], {"no dropout": none["val_accuracy"],
                                                                 f"dropout {s['dropout rate']}": drop["val_accuracy"]},
                                                 metric="accuracy (test set)", title="digits: with and without dropout",
                                                 logy=False), "Test accuracy during training.")

        def draw(fig):
            ax = fig.add_subplot()
            labels = ["train step", "predict test set"]
            xs = np.arange(2)
            ax.bar(xs - 0.2, [tn, pn], 0.4, label="no dropout")
            ax.bar(xs + 0.2, [td, pd], 0.4, label="dropout")
            ax.set_xticks(xs, labels)
            ax.set_ylabel("microseconds (best of repeats)")
            ax.legend()
            ax.grid(alpha=0.3, axis="y")

        report.figure("timing.png", draw, "Measured time per training step and per prediction pass.")
