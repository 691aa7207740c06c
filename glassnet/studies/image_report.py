"""The report of study ``image-classifier``, computed from its measurements."""

from __future__ import annotations

import numpy as np

from .report import choose, curves, fmt, names_list, pct, ratio_phrase


def _m(a) -> float:
    return float(np.nanmean(a))


def analyze(data, s, report):
    dense, cnn = data["dense"], data["cnn"]
    short, long_ = s["short epochs"], s["long epochs"]
    what = "8x8 grey handwritten digits" if s["data"] == "digits" else \
        f"{s['image size']}x{s['image size']} colour images of shapes"
    report.intro.append(
        f"Data: {data['n_train']} training and {data['n_test']} test {what}, {s['classes']} classes (the seed's "
        f"homework used 32x32 colour photos; this set is smaller so the NumPy CNN trains in minutes). "
        f"Dense models: {s['seeds']} seeds each; CNNs: {s['cnn seeds']}.")
    rows = []
    for name, r in dense.items():
        rows.append([name, r["params"], _m(r["short_loss"]), pct(_m(r["short_accuracy"])), _m(r["long_loss"]),
                     pct(_m(r["long_accuracy"])), r["seconds_per_epoch"]])
        report.number(f"dense.long_accuracy.{name}", _m(r["long_accuracy"]))
        report.number(f"dense.short_accuracy.{name}", _m(r["short_accuracy"]))
    for name, r in cnn.items():
        report.number(f"cnn.accuracy.{name}", _m(r["long_accuracy"]))
        report.number(f"cnn.params.{name}", r["params"])
    report.section("Dense classifier")
    report.table(["model", "parameters", f"test loss, {short} epochs", f"test accuracy, {short} epochs",
                  f"test loss, {long_} epochs", f"test accuracy, {long_} epochs", "seconds per epoch (all seeds)"],
                 rows)
    acts = ["relu", "leaky_relu", "tanh", "sigmoid"]
    acc = {a: _m(dense[f"{a}, batch 64"]["long_accuracy"]) for a in acts}
    loss = {a: _m(dense[f"{a}, batch 64"]["long_loss"]) for a in acts}
    order = sorted(acts, key=acc.get, reverse=True)
    d_lr = acc["leaky_relu"] - acc["relu"]
    report.finding(
        f"Activation (dense, {long_} epochs, batch 64): test accuracy " + names_list([f"{a} {pct(acc[a])}" for a in order])
        + f"; LeakyReLU vs ReLU: {100 * d_lr:+.1f} points"
        + choose(d_lr < -0.01, " — worse, like the seed's result.",
                 choose(d_lr > 0.01, " — better, unlike the seed's result (it found LeakyReLU worse).",
                        " — no clear difference.")))
    gains = {n: _m(r["long_accuracy"]) - _m(r["short_accuracy"]) for n, r in dense.items()}
    lg = {n: _m(r["long_loss"]) - _m(r["short_loss"]) for n, r in dense.items()}
    ref = "leaky_relu, batch 64"
    report.number("epochs.gain.leaky", gains[ref])
    report.finding(
        f"{short} vs {long_} epochs (the seed's new_a_model, LeakyReLU): test accuracy "
        f"{pct(_m(dense[ref]['short_accuracy']))} "
        f"-> {pct(_m(dense[ref]['long_accuracy']))}, test loss {fmt(_m(dense[ref]['short_loss']))} -> "
        f"{fmt(_m(dense[ref]['long_loss']))}; over all dense variants the extra epochs changed accuracy by "
        f"{100 * min(gains.values()):+.1f} to {100 * max(gains.values()):+.1f} points"
        + choose(max(abs(g) for g in gains.values()) < 0.02,
                 ", i.e. little, as the seed found (most was learned by the shorter run).",
                 choose(np.mean(list(gains.values())) > 0.02,
                        " — the longer run still paid off here (the seed saw little gain from 15 more epochs).",
                        "; the test loss rose for " + names_list([n for n, v in lg.items() if v > 0])
                        + ": longer training starts to overfit.")))
    b64, b32 = dense["relu, batch 64"], dense["relu, batch 32"]
    a64, a32 = _m(b64["long_accuracy"]), _m(b32["long_accuracy"])
    report.finding(
        f"Batch 32 vs 64 (ReLU): test accuracy {pct(a32)} vs {pct(a64)}; an epoch took "
        f"{fmt(b32['seconds_per_epoch'])} s vs {fmt(b64['seconds_per_epoch'])} s "
        f"({ratio_phrase(b32['seconds_per_epoch'], b64['seconds_per_epoch'], 'longer', 'shorter', 'about as long')} "
        "for batch 32" + choose(b32["seconds_per_epoch"] > 1.05 * b64["seconds_per_epoch"],
                                ", which makes twice as many, smaller updates per epoch).", ")."))
    bn, nobn = dense["leaky_relu + batch norm, batch 64"], dense[ref]
    d_bn = _m(bn["long_accuracy"]) - _m(nobn["long_accuracy"])
    report.finding(
        f"Batch normalization (LeakyReLU): test accuracy {pct(_m(bn['long_accuracy']))} with vs "
        f"{pct(_m(nobn['long_accuracy']))} without ({100 * d_bn:+.1f} points)"
        + choose(abs(d_bn) <= 0.01, " — no serious improvement, as the seed found.",
                 choose(d_bn > 0, " — an improvement, unlike the seed's result.", " — worse with batch norm.")))
    full, half = cnn["full filters"], cnn["half filters"]
    fa, ha = _m(full["long_accuracy"]), _m(half["long_accuracy"])
    best_dense = max(dense, key=lambda n: _m(dense[n]["long_accuracy"]))
    report.section("CNN: full vs half filters")
    report.table(["CNN", "filters", "parameters", f"test loss, {s['cnn epochs']} epochs",
                  f"test accuracy, {s['cnn epochs']} epochs", "classes predicted (mean)", "dead ReLU units",
                  "diverged", "seconds per epoch (all seeds)"],
                 [[n, ", ".join(str(f if n == "full filters" else max(1, f // 2)) for f in s["cnn filters"]),
                   r["params"], _m(r["long_loss"]), pct(_m(r["long_accuracy"])), _m(r["distinct_predictions"]),
                   pct(_m(r["dead_share"])), f"{int(np.sum(r['status'] == 'diverged'))}/{len(r['status'])}",
                   r["seconds_per_epoch"]] for n, r in cnn.items()])
    report.finding(
        f"CNN with filters {s['cnn filters']} vs half: {full['params']:,} vs {half['params']:,} parameters "
        f"({ratio_phrase(full['params'], half['params'], 'more', 'fewer', 'as many')}), an epoch "
        f"{ratio_phrase(full['seconds_per_epoch'], half['seconds_per_epoch'], 'slower', 'faster', 'as fast')}; test "
        f"accuracy {pct(fa)} vs {pct(ha)}, test loss {fmt(_m(full['long_loss']))} vs {fmt(_m(half['long_loss']))}"
        + choose(abs(fa - ha) <= 0.02, " — halving the filters cost (almost) no accuracy, as in the seed.",
                 choose(fa > ha, " — the full CNN was clearly better.", " — the half CNN was better."))
        + "".join(f" The {n} CNN predicted only {fmt(_m(r['distinct_predictions']))} distinct class(es) on the test "
                  f"set ({pct(_m(r['dead_share']))} of its ReLU units dead): it had not started to learn."
                  for n, r in cnn.items() if _m(r["distinct_predictions"]) < 0.5 * s["classes"])
        + f" Best dense model: {best_dense} at {pct(_m(dense[best_dense]['long_accuracy']))}"
        + choose(max(fa, ha) > _m(dense[best_dense]["long_accuracy"]), "; the CNN beat it.", "; the CNN did not beat it."))
    summary = [[n, r["params"], _m(r["long_loss"]), pct(_m(r["long_accuracy"]))] for n, r in dense.items()]
    summary += [[f"CNN, {n}", r["params"], _m(r["long_loss"]), pct(_m(r["long_accuracy"]))] for n, r in cnn.items()]
    report.set_summary(["model", "parameters", "test loss", "test accuracy"], summary)
    first = next(iter(dense.values()))
    report.figure("dense_test_accuracy.png", curves(
        first["epochs"], {n: r["val_accuracy"] for n, r in dense.items()}, metric="test accuracy",
        title="dense classifiers", logy=False), "Test accuracy of the dense variants (x axis: epochs x steps per epoch).")
    report.figure("cnn_test_loss.png", curves(
        full["epochs"], {n: r["val_loss"] for n, r in cnn.items()}, metric="test loss", title="CNN: full vs half filters"),
        "Test loss of the two CNNs.")
