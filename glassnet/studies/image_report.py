"""The report of study ``image-classifier``, computed from its measurements.

Every finding that draws a conclusion is a :meth:`~glassnet.studies.report.Report.claim`: written
only when its premise holds on these numbers, the alternative otherwise. A difference between two
models counts as one only when it is larger than ``max(1 point, 2 standard errors)`` of the
difference of their seed means (``_gap``), so seed-to-seed noise is never read as an effect.
"""

from __future__ import annotations

import numpy as np

from .image_figures import cnn_figure, epoch_curves, sgd_figure
from .report import choose, fmt, names_list, pct, ratio_phrase


def _m(a) -> float:
    return float(np.nanmean(a))


def _gap(a, b, floor: float = 0.01) -> tuple[float, float]:
    """``mean(a) - mean(b)`` and the margin it must exceed to count: ``max(floor, 2 SE)``, the
    standard error of the difference of two seed means."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    se = np.sqrt(sum(np.var(v, ddof=1) / v.size if v.size > 1 else 0.0 for v in (a, b)))
    return _m(a) - _m(b), max(floor, 2 * float(se))


def _conclusive(conclusive: bool, seed: str) -> str | None:
    """The seed's claim for :meth:`Report.claim` only when the measurement can decide it (a
    difference within the noise neither agrees nor contradicts)."""
    return seed if conclusive else None


def _untested(seed: str) -> str:
    return f" (the seed says {seed}; this run can neither confirm nor refute it)"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _trend_noise(samples, curve, skip: float) -> float:
    """Scatter of ``log(curve)`` around its trend: the residual std of a quadratic fit in
    ``log(samples seen)``, over the points after ``skip`` samples (the steep start excluded)."""
    x, y = np.asarray(samples, float), np.asarray(curve, float)
    ok = (x > skip) & np.isfinite(y) & (y > 0)
    if ok.sum() < 6:
        return float("nan")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    fit = np.polyval(np.polyfit(lx, ly, 2), lx)
    return float(np.std(ly - fit))


def analyze(data, s, report):
    dense, cnn, sgd = data["dense"], data["cnn"], data["sgd"]
    short, long_, chance = s["short epochs"], s["long epochs"], data["chance"]
    size = s["image size"]
    report.intro.append(
        f"Data: {data['n_train']} training and {data['n_test']} test {size}x{size} colour images of shapes, "
        f"{s['classes']} classes (chance {pct(chance)}), quality '{s['quality']}' (blurred and noisy, like the seed's "
        f"'low quality' images; the seed used 32x32 photos). Training and test images are standardized per pixel "
        f"with the training statistics; every network is also evaluated on the same test images preprocessed "
        f"differently ({s['test preprocessing (mismatched)']}), the cause the seed's authors found. "
        f"Budgets: every dense model and both CNNs train {long_} epochs at batch 64 (batch 32 for its variant) with "
        f"Adam lr 0.001; the mini-batch vs batch 1 comparison runs {s['batch 1 epochs']} epoch(s) each. "
        f"Dense models: {s['seeds']} seeds each; CNNs: {s['cnn seeds']}.")
    _dense(data, s, report, dense, short, long_)
    _sgd(data, s, report, sgd, dense)
    _cnn(data, s, report, cnn, dense, chance, long_)
    summary = [[n, r["params"], _m(r["long_loss"]), pct(_m(r["long_accuracy"])),
                pct(_m(r["mismatch_accuracy"][:, -1]))] for n, r in dense.items()]
    summary += [[f"CNN, {n}", r["params"], _m(r["long_loss"]), pct(_m(r["long_accuracy"])),
                 pct(_m(r["mismatch_accuracy"][:, -1]))] for n, r in cnn.items()]
    report.set_summary(["model", "parameters", "test loss", "test accuracy",
                        "test accuracy, test set preprocessed differently"], summary)


# -- dense models ---------------------------------------------------------------------------------

def _dense(data, s, report, dense, short, long_):
    rows = []
    for name, r in dense.items():
        rows.append([name, r["params"], _m(r[f"loss@{short}"]), pct(_m(r[f"accuracy@{short}"])), _m(r["long_loss"]),
                     pct(_m(r["long_accuracy"])), r["seconds_per_epoch"]])
        report.number(f"dense.long_accuracy.{name}", _m(r["long_accuracy"]))
        report.number(f"dense.short_accuracy.{name}", _m(r[f"accuracy@{short}"]))
    report.section("Dense classifier")
    report.table(["model", "parameters", f"test loss, {short} epochs", f"test accuracy, {short} epochs",
                  f"test loss, {long_} epochs", f"test accuracy, {long_} epochs", "seconds per epoch (all seeds, with test evaluation)"],
                 rows)
    acts = ["relu", "leaky_relu", "tanh", "sigmoid"]
    acc = {a: _m(dense[f"{a}, batch 64"]["long_accuracy"]) for a in acts}
    order = sorted(acts, key=acc.get, reverse=True)
    d, margin = _gap(dense["leaky_relu, batch 64"]["long_accuracy"], dense["relu, batch 64"]["long_accuracy"])
    head = (f"Activation (dense, {long_} epochs, batch 64): test accuracy "
            + names_list([f"{a} {pct(acc[a])}" for a in order]) + f"; LeakyReLU vs ReLU: {_pts(d)}")
    seed = "LeakyReLU gives worse results than ReLU on its images"
    report.claim("dense.leaky_worse", d < -margin,
                 head + f", more than the seeds' noise ({100 * margin:.1f} points): LeakyReLU was worse.",
                 head + choose(d > margin, f", more than the seeds' noise ({100 * margin:.1f} points): LeakyReLU was better.",
                               f", within the seeds' noise ({100 * margin:.1f} points): no clear difference"
                               f"{_untested(seed)}."),
                 {"difference": d, "margin": margin}, seed=_conclusive(abs(d) > margin, seed))
    ref = dense["leaky_relu, batch 64"]
    gain, margin = _gap(ref["long_accuracy"], ref[f"accuracy@{short}"])
    gains = {n: _m(r["long_accuracy"]) - _m(r[f"accuracy@{short}"]) for n, r in dense.items()}
    rose = [n for n, r in dense.items() if _m(r["long_loss"]) > _m(r[f"loss@{short}"])]
    report.number("epochs.gain.leaky", gain)
    head = (f"{short} vs {long_} epochs (the seed's new_a_model, LeakyReLU): test accuracy "
            f"{pct(_m(ref[f'accuracy@{short}']))} -> {pct(_m(ref['long_accuracy']))} ({_pts(gain)}), test loss "
            f"{fmt(_m(ref[f'loss@{short}']))} -> {fmt(_m(ref['long_loss']))}; over all dense variants the extra "
            f"epochs changed accuracy by {_pts(min(gains.values()))} to {_pts(max(gains.values()))}")
    tail = ("; the test loss rose for " + choose(len(rose) == len(dense), f"all {len(dense)} dense variants",
                                                 names_list([f'"{n}"' for n in rose]))
            + ", a sign of overfitting") if rose else ""
    report.claim("dense.epochs_little_gain", gain <= max(margin, 0.02),
                 head + f"{tail}. " + choose(gain < -margin, f"The extra epochs cost LeakyReLU accuracy: it had learned what "
                                                            f"it could by epoch {short}, and then overfitted.",
                                             f"The extra epochs added little to LeakyReLU: most was learned by epoch {short}."),
                 head + f"{tail}. The longer run still paid off for LeakyReLU.",
                 {"gain": gain, "margin": margin},
                 seed=f"40 epochs brought no major improvement over 25 (65.7% -> 66.9%)")
    b64, b32 = dense["relu, batch 64"], dense["relu, batch 32"]
    d32, margin = _gap(b32["long_accuracy"], b64["long_accuracy"])
    report.finding(
        f"Batch 32 vs 64 (ReLU, {long_} epochs each): test accuracy {pct(_m(b32['long_accuracy']))} vs "
        f"{pct(_m(b64['long_accuracy']))} ({_pts(d32)}, noise {100 * margin:.1f} points); an epoch took "
        f"{fmt(b32['seconds_per_epoch'])} s vs {fmt(b64['seconds_per_epoch'])} s "
        f"({ratio_phrase(b32['seconds_per_epoch'], b64['seconds_per_epoch'], 'longer', 'shorter', 'about as long')} "
        f"for batch 32, with {b32['updates_per_epoch']} updates per epoch against {b64['updates_per_epoch']}).")
    bn, nobn = dense["leaky_relu + batch norm, batch 64"], dense["leaky_relu, batch 64"]
    d_bn, margin = _gap(bn["long_accuracy"], nobn["long_accuracy"])
    head = (f"Batch normalization (LeakyReLU, {long_} epochs): test accuracy {pct(_m(bn['long_accuracy']))} with vs "
            f"{pct(_m(nobn['long_accuracy']))} without ({_pts(d_bn)}, noise {100 * margin:.1f} points)")
    report.claim("dense.batch_norm_no_gain", d_bn <= margin,
                 head + choose(d_bn < -margin, ": worse with batch norm.", ": no clear improvement."),
                 head + ": an improvement.", {"difference": d_bn, "margin": margin},
                 seed="batch normalization brought no serious improvement (67.4%)")
    report.figure("dense_test_accuracy.png", epoch_curves(
        {n: (r["epochs"], r["val_accuracy"]) for n, r in dense.items()}, metric="test accuracy",
        title="dense classifiers", hline=data["chance"]),
        f"Test accuracy of the dense variants after each epoch (dotted: chance, {pct(data['chance'])}).")


# -- mini-batch vs one image per update -----------------------------------------------------------

def _sgd(data, s, report, sgd, dense):
    mb, one = sgd[64], sgd[1]
    E = s["batch 1 epochs"]
    n_train = data["n_train"]
    report.section("Mini-batch (64) vs one image per update (batch 1, the seed's 'SGD')")
    report.text("Only the batch size changes: the same ReLU network, seeds, images and optimizer (Adam, lr 0.001), so "
                "any difference comes from averaging the gradient over 64 images or not.")
    noise = {}
    for b, r in ((64, mb), (1, one)):
        samples = r["epochs"] * n_train
        per_seed = np.array([_trend_noise(samples, row, n_train / 2) for row in r["val_loss"]])
        noise[b] = float(np.median(per_seed[np.isfinite(per_seed)])) if np.isfinite(per_seed).any() else float("nan")
    ref = dense["relu, batch 64"]
    tu1, tu64 = one["seconds_per_update"], mb["seconds_per_update"]
    te1, te64 = tu1 * one["updates_per_epoch"], tu64 * mb["updates_per_epoch"]
    # equal wall time: how far batch 64 gets (the dense table's run) in the time batch 1 trains its epochs
    t1 = te1 * E
    e_fit = int(np.floor(t1 / te64))
    e_eq = int(min(e_fit, ref["epochs"][-1]))
    i_eq = int(np.argmin(np.abs(ref["epochs"] - e_eq)))
    acc_eq = _m(ref["val_accuracy"][:, i_eq])
    report.table(["batch", "updates per epoch", "seconds per update", "seconds per epoch",
                  f"test loss after {E} epoch(s)", f"test accuracy after {E} epoch(s)", "scatter of log test loss"],
                 [[b, r["updates_per_epoch"], r["seconds_per_update"], r["seconds_per_update"] * r["updates_per_epoch"],
                   _m(r["long_loss"]), pct(_m(r["long_accuracy"])), noise[b]] for b, r in ((64, mb), (1, one))],
                 caption="Both runs: ReLU dense net, Adam lr 0.001, the same seeds and images; the test set evaluated "
                         "every 64 images seen. Seconds: training alone (no evaluation) of one network, the fastest "
                         "of 5 timings of 100 updates. Scatter: residual std of log(test loss) around a quadratic trend in "
                         "log(images seen), after the first half epoch.")
    for key, v in (("sgd.noise.64", noise[64]), ("sgd.noise.1", noise[1]), ("sgd.update_s.64", mb["seconds_per_update"]),
                   ("sgd.update_s.1", one["seconds_per_update"])):
        report.number(key, v)
    report.finding(
        f"Equal epochs ({E}): test accuracy {pct(_m(one['long_accuracy']))} with batch 1 ({one['updates_per_epoch'] * E:,} "
        f"updates) vs {pct(_m(mb['long_accuracy']))} with batch 64 ({mb['updates_per_epoch'] * E:,} updates). Equal wall "
        f"time: batch 1's {E} epoch(s) take {fmt(t1)} s of training, in which batch 64 gets through {e_fit:,} epochs: "
        + choose(e_fit > e_eq, f"more than the whole {e_eq}-epoch run of the dense table, which reached {pct(acc_eq)}.",
                 f"the batch-64 run of the dense table had reached {pct(acc_eq)} by then."))
    report.claim("sgd.update_faster", tu64 < 0.8 * tu1,
                 f"One update took {fmt(1e3 * tu64)} ms with batch 64 and {fmt(1e3 * tu1)} ms with batch 1: mini-batch "
                 "updates were faster.",
                 f"One update took {fmt(1e3 * tu64)} ms with batch 64 and {fmt(1e3 * tu1)} ms with batch 1 "
                 f"({ratio_phrase(tu64, tu1, 'longer', 'shorter', 'about as long')} for the mini-batch): a single "
                 "mini-batch update is not faster (by 20% or more); what mini-batches save is updates per epoch.",
                 {"batch64": tu64, "batch1": tu1}, seed="with mini-batches the iterations are faster")
    report.claim("sgd.epoch_faster", te64 < 0.8 * te1,
                 f"An epoch took {fmt(te64)} s with batch 64 and {fmt(te1)} s with batch 1 "
                 f"({ratio_phrase(te1, te64, 'longer', 'shorter', 'as long')} for batch 1): per pass over the data, "
                 "mini-batches are faster (one matrix product for 64 images instead of 64 small ones).",
                 f"An epoch took {fmt(te64)} s with batch 64 and {fmt(te1)} s with batch 1: per pass over the data, "
                 "mini-batches were not clearly faster.",
                 {"batch64": te64, "batch1": te1})
    ok = bool(np.isfinite(noise[64]) and np.isfinite(noise[1]))
    seed = "mini-batch is less prone to noise than SGD, thus more stable"
    report.claim("sgd.less_noise", ok and noise[64] < 0.8 * noise[1],
                 f"The test loss scattered around its trend by {fmt(noise[64])} (log units) with batch 64 and "
                 f"{fmt(noise[1])} with batch 1: the mini-batch path was smoother.",
                 choose(ok, f"The test loss scattered around its trend by {fmt(noise[64])} (log units) with batch 64 and "
                            f"{fmt(noise[1])} with batch 1: the mini-batch path was not clearly smoother.",
                        "Too few test evaluations to measure the scatter of the test loss" + _untested(seed) + "."),
                 {"batch64": noise[64], "batch1": noise[1]}, seed=_conclusive(ok, seed))
    report.figure("minibatch_vs_batch1.png", sgd_figure(mb, one, n_train),
                  "Test loss against images seen (in epochs), batch 64 vs batch 1, each seed one line.")


# -- CNN ------------------------------------------------------------------------------------------

def _cnn(data, s, report, cnn, dense, chance, long_):
    full, half = cnn["full filters"], cnn["half filters"]
    sizes = data["seed_sizes"]
    for name, r in cnn.items():
        report.number(f"cnn.accuracy.{name}", _m(r["long_accuracy"]))
        report.number(f"cnn.params.{name}", r["params"])
    report.section("CNN: full vs half filters, and against the dense models at equal epochs")
    halves = [max(1, f // 2) for f in s["cnn filters"]]
    report.table(["CNN", "filters", "parameters", f"test loss, {long_} epochs", f"test accuracy, {long_} epochs",
                  "test accuracy, preprocessed differently", "classes predicted (mean)", "dead ReLU units",
                  "diverged", "seconds per epoch (all seeds, with test evaluation)"],
                 [[n, ", ".join(map(str, s["cnn filters"] if n == "full filters" else halves)), r["params"],
                   _m(r["long_loss"]), pct(_m(r["long_accuracy"])), pct(_m(r["mismatch_accuracy"][:, -1])),
                   _m(r["distinct_predictions"]), pct(_m(r["dead_share"])),
                   f"{int(np.sum(r['status'] == 'diverged'))}/{len(r['status'])}", r["seconds_per_epoch"]]
                  for n, r in cnn.items()],
                 caption=f"The seed's CNN with every width divided by {s['cnn width divisor']} (filters "
                         f"{sizes['cnn filters']} -> {s['cnn filters']}, dense layers {sizes['cnn dense units']} -> "
                         f"{s['cnn dense units']}); L2 {fmt(s['cnn l2'])} on the kernels.")
    # the parameter-count question, on the seed's sizes
    pc, pd, conv, first = sizes["cnn"], sizes["dense"], sizes["cnn conv"], sizes["cnn first dense"]
    units = sizes["cnn dense units"][0]
    fan_in = (first - units) // units
    counts = (f"At the seed's sizes (32x32x3 input) the CNN (filters {sizes['cnn filters']}, dense "
              f"{sizes['cnn dense units']}) has {pc:,} parameters, its half-filter twin {sizes['cnn half']:,}, and the "
              f"dense net (hidden {sizes['dense hidden']}) {pd:,}")
    report.claim("cnn.fewer_params", pc < pd,
                 counts + f": the CNN has {ratio_phrase(pc, pd, 'more', 'fewer', 'as many')}.",
                 counts + f": the CNN has {ratio_phrase(pc, pd, 'more', 'fewer', 'as many')}. Its five convolutions "
                          f"hold only {conv:,}; {first:,} ({first / pc:.0%}) sit in the first dense layer after Flatten "
                          f"({fan_in:,} inputs x {units} units, plus biases). The networks trained here: CNN {full['params']:,}, "
                          f"half {half['params']:,}, dense {dense['relu, batch 64']['params']:,}.",
                 {"cnn": pc, "dense": pd, "conv": conv, "first_dense": first},
                 seed="a CNN usually uses fewer parameters than a fully connected network")
    fa, ha = _m(full["long_accuracy"]), _m(half["long_accuracy"])
    d_half, margin = _gap(full["long_accuracy"], half["long_accuracy"], 0.02)
    head = (f"CNN with filters {s['cnn filters']} vs half: {full['params']:,} vs {half['params']:,} parameters, an epoch "
            f"{ratio_phrase(full['seconds_per_epoch'], half['seconds_per_epoch'], 'slower', 'faster', 'as fast')}; test "
            f"accuracy {pct(fa)} vs {pct(ha)} ({_pts(d_half)}, noise {100 * margin:.1f} points), test loss "
            f"{fmt(_m(full['long_loss']))} vs {fmt(_m(half['long_loss']))}")
    report.claim("cnn.half_costs_little", abs(d_half) <= margin,
                 head + ": halving the filters cost no clear accuracy.",
                 head + choose(d_half > 0, ": the full CNN was clearly better.", ": the half CNN was clearly better."),
                 {"difference": d_half, "margin": margin},
                 seed="halving the filters changed little (26.9% -> 25.7%, both near chance)")
    for name, r in cnn.items():
        k = _m(r["distinct_predictions"])
        acc = _m(r["long_accuracy"])
        report.claim(f"cnn.learned.{name}", k >= 0.5 * s["classes"] and acc > chance + 0.05,
                     f"The {name} CNN predicted {fmt(k)} distinct classes on the test set and reached {pct(acc)} "
                     f"(chance {pct(chance)}): it learned.",
                     f"The {name} CNN predicted only {fmt(k)} distinct class(es) on the test set ({pct(_m(r['dead_share']))} "
                     f"of its ReLU units dead, accuracy {pct(acc)}, chance {pct(chance)}): it had not started to learn.",
                     {"distinct": k, "accuracy": acc})
    best = max(dense, key=lambda n: _m(dense[n]["long_accuracy"]))
    d_best, margin = _gap(full["long_accuracy"], dense[best]["long_accuracy"])
    head = (f"At equal budgets ({long_} epochs each, batch 64, Adam) the CNN reached {pct(fa)} and the best dense model "
            f"({best}) {pct(_m(dense[best]['long_accuracy']))} ({_pts(d_best)}, noise {100 * margin:.1f} points)")
    report.claim("cnn.beats_dense", d_best > margin, head + ": the CNN beat it.",
                 head + choose(d_best < -margin, ": the CNN was worse.", ": no clear difference."),
                 {"difference": d_best, "margin": margin})
    mis, ok = _m(full["mismatch_accuracy"][:, -1]), fa
    k_mis = _m(full["mismatch_distinct"][:, -1])
    near_chance = mis <= chance + 0.1
    learned = ok >= chance + 0.1 and ok >= mis + 0.1
    pix = data["pixels"]
    head = (f"Test preprocessing: fed the test images {s['test preprocessing (mismatched)']} (mean "
            f"{fmt(pix['raw test mean'])}, std {fmt(pix['raw test std'])}, where training saw mean 0, std 1), the CNN "
            f"scored {pct(mis)} and predicted {fmt(k_mis)} distinct classes; on the same images preprocessed like its "
            f"training images it scored {pct(ok)} (chance {pct(chance)})")
    dense_mis = [f"\"{n}\" {pct(_m(r['mismatch_accuracy'][:, -1]))} (from {pct(_m(r['long_accuracy']))})"
                 for n, r in list(dense.items())[:3]]
    seed = ("its CNN stayed at chance because the test images were preprocessed differently from the "
            "validation images")
    report.claim("cnn.mismatch_chance", near_chance and learned,
                 head + ": the CNN had learned, and the mismatched preprocessing alone put it near chance. The dense "
                        "models on the mismatched test set: " + names_list(dense_mis) + ".",
                 head + choose(not learned, ": the CNN did not learn enough here for the test preprocessing to be what "
                                            f"kept it near chance{_untested(seed)}.",
                               ": the mismatch cost accuracy but did not put the CNN near chance."),
                 {"mismatched": mis, "matched": ok, "chance": chance}, seed=_conclusive(learned, seed))
    report.figure("cnn_test_accuracy.png", cnn_figure(cnn, dense[best], best, chance),
                  f"Test accuracy after each epoch: the two CNNs and the best dense model on the test set preprocessed "
                  f"like the training set (left) and differently (right); dotted: chance.", size=(9.0, 3.8))
