"""Study ``vanishing-gradients`` (issue 13): a deep plain net vs the same with residual connections
vs with normalization -- the gradient each layer gets, at initialization and during training.

Backprop multiplies the gradient by one layer's Jacobian per layer: dL/dh_{k-1} = (dL/dh_k *
f'(z_k)) W_k^T. With sigmoid (f' <= 1/4) twenty such factors make the first layers' gradient
vanishingly small, so they barely learn. Two fixes are measured on the same 20 layers:

* **residual**: h_k = h_{k-1} + f(W_k h_{k-1} + b_k) (``gn.Add``): dL/dh_{k-1} = dL/dh_k + (the
  layer's part), so the gradient reaches every layer through the identity path unchanged;
* **normalized**: h_k = f(LayerNorm(W_k h_{k-1} + b_k)): each layer's pre-activations are
  rescaled to mean 0, variance 1, keeping f' away from its flat tails and the signal's scale fixed.

Task: the Playground's circle (standardized), 2 classes, softmax cross-entropy, plain SGD at one
stated learning rate and batch size for every network (equal budgets). Width W in every hidden
layer, Glorot-uniform weights, zero biases. Per configuration (activation x variant) the seeds
train side by side on the model axis. Measured: ||dL/dW_k|| for every hidden layer k at
initialization (on the whole training set) and at every logged step of training (the minibatch
gradient the step uses, read by a read-only probe), the loss and accuracy curves, and each
network's status (a diverged one stops with its curve kept).

The headline number is the ratio r = ||dL/dW_2|| / ||dL/dW_D||: layer 2 is the first W x W layer
(layer 1 maps the 2 inputs to W units), layer D the last hidden layer. r << 1 is the vanishing
picture, r >> 1 the exploding one; a network whose r lies within [0.1, 10] is called healthy.
"""

from __future__ import annotations

import numpy as np

from .. import plots
from ..diagnostics import compute_gradients
from ..graph import Input, Model
from ..layers import Activation, Dense, LayerNorm
from ..layers.merge import Add
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe
from .report import fmt, markdown_table, pct
from .runconfig import DataRecipe

ACTIVATIONS = ("sigmoid", "tanh", "relu")
VARIANTS = ("plain", "residual", "normalized")
HEALTHY = (0.1, 10.0)   #: the ratio range called healthy
LEARNED = 0.9           #: final training accuracy that counts as "learned the circle"
LOSS = "softmax_cross_entropy"
#: why the residual nets are not recorded in the run store: a run config's [model] table and the
#: store's weights files describe a chain of layers, with no way yet to say which tensors an Add sums
GRAPH_NOT_RECORDED = ("The residual networks are graph models; the run store (its run configs and weights files "
                      "describe a chain of layers) cannot hold them yet, so only the plain and normalized networks "
                      "are recorded there.")


def build(act: str, variant: str, depth: int, width: int, seeds) -> Sequential | Model:
    """The network of one configuration: ``depth`` hidden layers of ``width`` units, 2 outputs."""
    if variant == "plain":
        return Sequential([Dense(width, activation=act) for _ in range(depth)] + [Dense(2)],
                          input_shape=(2,), seed=seeds)
    if variant == "normalized":
        layers = []
        for _ in range(depth):
            layers += [Dense(width), LayerNorm(), Activation(act)]
        return Sequential(layers + [Dense(2)], input_shape=(2,), seed=seeds)
    x = Input((2,))
    h = Dense(width, activation=act)(x)
    for _ in range(depth - 1):
        h = Add()([h, Dense(width, activation=act)(h)])
    return Model(x, Dense(2)(h), seed=seeds)


def hidden_dense(model, depth: int) -> list:
    """The ``depth`` hidden Dense layers, input side first (the output layer left out)."""
    return [layer for layer in model.layers if isinstance(layer, Dense)][:depth]


def layer_norms(layers, M: int) -> np.ndarray:
    """``(M, D)``: ||dL/dW_k|| per network and hidden layer, from the latest backward pass."""
    return np.stack([np.sqrt((l.W.grad.reshape(M, -1).astype(np.float64) ** 2).sum(1)) for l in layers], axis=1)


def ratio(norms) -> np.ndarray:
    """r = ||dL/dW_2|| / ||dL/dW_D|| over the last axis of ``(..., D)`` norms."""
    norms = np.asarray(norms, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return norms[..., 1] / norms[..., -1]


def healthy(r) -> bool:
    return bool(np.isfinite(r) and HEALTHY[0] <= r <= HEALTHY[1])


@register_study
class VanishingGradients(Study):
    name = "vanishing-gradients"
    seed_file = "issue 13"
    title = "a deep plain net vs residual connections vs normalization: the gradient each layer gets"
    summary = ("20 sigmoid/tanh/ReLU layers, plain vs residual vs LayerNorm: per-layer gradient norms at init and "
               "during training, seeds on the model axis")
    full_seeds = 8
    quick_seeds = 2

    def settings(self, quick, seeds):
        return {"seeds": seeds, "depth": 20, "width": 8 if quick else 16, "samples": 200 if quick else 400,
                "batch size": 32 if quick else 64, "steps": 60 if quick else 3000, "log every": 20 if quick else 100,
                "lr": 0.03, "optimizer": "SGD", "init": "Glorot uniform, zero biases",
                "activations": list(ACTIVATIONS), "variants": list(VARIANTS), "data": "circle, standardized"}

    def measure(self, s, recorder):
        recipe = DataRecipe("circle", options={"n": s["samples"], "seed": 0}, standardize=True)
        data = recipe.load()
        D, S = s["depth"], s["seeds"]
        runs = {}
        for act in ACTIVATIONS:
            runs[act] = {}
            for variant in VARIANTS:
                model = build(act, variant, D, s["width"], list(range(S)))
                layers = hidden_dense(model, D)
                compute_gradients(model, data.x, data.y, LOSS)  # the whole training set, weights untouched
                init = layer_norms(layers, S)
                last = [layer for layer in model.layers if isinstance(layer, Dense)][-1]._x  # (S, N, W)
                signal = np.sqrt(np.mean(np.asarray(last, dtype=float) ** 2, axis=(1, 2)))
                probe = Probe(lambda m, layers=layers: {"norms": layer_norms(layers, m.M)})
                hist = model.fit(data.x, data.y, loss=LOSS, optimizer=SGD(lr=s["lr"]), batch_size=s["batch size"],
                                 steps=s["steps"], log_every=s["log every"], metrics=["accuracy"], progress=False,
                                 callbacks=[probe] + ([] if variant == "residual" else
                                                      [recorder.callback(recipe, f"{act}, {variant}")]))
                runs[act][variant] = {
                    "init": init, "signal": signal, "steps": np.asarray(probe.steps), "during": probe.values["norms"],
                    "loss": np.asarray(hist.curves["loss"], dtype=float),
                    "accuracy": np.asarray(hist.curves["accuracy"], dtype=float),
                    "curve_steps": np.asarray(hist.steps), "status": list(hist.status)}
        return {"runs": runs}

    # -- analysis -------------------------------------------------------------------------------
    def analyze(self, data, s, report):
        runs, D, S = data["runs"], s["depth"], s["seeds"]
        stats = {act: {v: _stats(runs[act][v]) for v in VARIANTS} for act in ACTIVATIONS}
        for act in ACTIVATIONS:
            _init_claims(report, act, stats[act], D, S)
        _training_claims(report, stats, s)
        rows = [[act, v, st["r0"], st["r_train"], st["acc"], f"{st['learned']}/{S}", f"{st['diverged']}/{S}",
                 st["signal"]] for act in ACTIVATIONS for v, st in stats[act].items()]
        headers = ["activation", "variant", f"ratio at init (layer 2 / layer {D})", "ratio during training",
                   "final training accuracy", "learned", "diverged", "RMS of the last hidden layer at init"]
        report.set_summary(headers[:5], [[r[0], r[1], r[2], r[3], pct(r[4])] for r in rows])
        report.section("Gradient ratio and training, per configuration")
        report.table(headers, [r[:4] + [pct(r[4])] + r[5:] for r in rows],
                     caption=f"Medians over {S} seed(s). Ratio = ||dL/dW_2|| / ||dL/dW_{D}||; during training: the "
                             f"median over the logged steps of the minibatch gradients; learned = final training "
                             f"accuracy >= {pct(LEARNED, 0)}.")
        report.section("Per-layer gradient norms at initialization")
        report.text(markdown_table(["activation", "variant"] + [f"layer {k}" for k in (1, 2, D // 2, D)],
                                   [[act, v] + [float(np.median(runs[act][v]["init"][:, k - 1])) for k in (1, 2, D // 2, D)]
                                    for act in ACTIVATIONS for v in VARIANTS]))
        report.text(GRAPH_NOT_RECORDED)
        _figures(report, runs, stats, s)


def _stats(run) -> dict:
    r_init = ratio(run["init"])                       # (S,)
    during = np.asarray(run["during"], dtype=float)   # (T, S, D)
    r_during = ratio(during)                          # (T, S)
    acc = run["accuracy"]
    final = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in acc])
    with np.errstate(invalid="ignore"):
        r_train = float(np.nanmedian(r_during)) if np.isfinite(r_during).any() else float("nan")
    return {"r0": float(np.median(r_init)), "r0_all": r_init, "r_train": r_train,
            "acc": float(np.nanmedian(final)) if np.isfinite(final).any() else float("nan"),
            "learned": int(np.sum(final >= LEARNED)), "diverged": sum(st != "completed" for st in run["status"]),
            "signal": float(np.median(run["signal"])),
            "per_layer": float(np.median(r_init) ** (1 / max(len(run["init"][0]) - 2, 1)))}


def _init_claims(report, act, st, D, S) -> None:
    plain, res, norm = st["plain"], st["residual"], st["normalized"]
    r = plain["r0"]
    head = (f"Plain {act}, at initialization: layer 2 gets {fmt(r)} times the gradient of layer {D} (median of {S} "
            f"seeds; {fmt(plain['per_layer'])}x per layer)")
    report.claim(f"{act}.plain.vanishes", r < HEALTHY[0],
                 head + ": the gradient vanishes on its way to the input.",
                 head + (": it grows toward the input (exploding)." if r > HEALTHY[1] else
                         f": no vanishing at this depth with this initialization (within {fmt(HEALTHY[0])}-"
                         f"{fmt(HEALTHY[1])})."),
                 {"ratio": r, "per_layer": plain["per_layer"]})
    for key, v, what in (("residual", res, "residual connections"), ("normalized", norm, "LayerNorm before each activation")):
        text = (f"{act} with {what}: ratio {fmt(v['r0'])} at initialization (plain: {fmt(r)})")
        report.claim(f"{act}.{key}.healthy", healthy(v["r0"]),
                     text + f", within [{fmt(HEALTHY[0])}, {fmt(HEALTHY[1])}]: every layer gets a gradient of the "
                            "same order" + (", where the plain net's vanished." if r < HEALTHY[0] else "."),
                     text + (": the gradient still vanishes toward the input" if v["r0"] < HEALTHY[0] else
                             ": the gradient grows toward the input") +
                     (f", though {fmt(v['r0'] / r)} times less than in the plain net." if 0 < r < v["r0"] < HEALTHY[0]
                      else "."),
                     {"ratio": v["r0"], "plain_ratio": r})


def _training_claims(report, stats, s) -> None:
    sp = stats["sigmoid"]["plain"]
    budget = f"{s['steps']:,} SGD steps (lr {fmt(s['lr'])}, batch {s['batch size']})"
    report.claim("sigmoid.plain.stays_vanished", np.isfinite(sp["r_train"]) and sp["r_train"] < HEALTHY[0],
                 f"During {budget} the plain sigmoid net's ratio stayed {fmt(sp['r_train'])} (median over logged "
                 "steps and seeds): training did not cure the vanishing gradient.",
                 f"During {budget} the plain sigmoid net's ratio was {fmt(sp['r_train'])} (median over logged steps "
                 "and seeds): the gradient did not stay vanished during training.",
                 {"ratio": sp["r_train"]})
    for act in ACTIVATIONS:
        st = stats[act]
        accs = ", ".join(f"{v} {pct(st[v]['acc'])}" for v in VARIANTS)
        fixed = [v for v in ("residual", "normalized") if st[v]["acc"] >= LEARNED]
        diverged = [v for v in VARIANTS if st[v]["diverged"]]
        counts = [f"{v}: {st[v]['diverged']} of {s['seeds']} diverged; RMS of the last hidden layer at "
                  f"initialization {fmt(st[v]['signal'])}, plain {fmt(st['plain']['signal'])}" for v in diverged]
        tail = f" ({', '.join(counts)})" if counts else ""
        report.claim(f"{act}.training.fix_helps", st["plain"]["acc"] < LEARNED and bool(fixed),
                     f"{act}: after {budget} the plain net was at {pct(st['plain']['acc'])} training accuracy, while "
                     f"{' and '.join(fixed) if fixed else 'none'} learned the circle (final accuracy: {accs}){tail}.",
                     f"{act}: after {budget}, final training accuracy {accs}{tail}: "
                     + ("the plain net learned too." if st["plain"]["acc"] >= LEARNED else
                        "neither fix made the net learn within this budget."),
                     {f"{v}_accuracy": st[v]["acc"] for v in VARIANTS})


def _figures(report, runs, stats, s) -> None:
    D = s["depth"]

    def init_fig():
        return plots.layer_gradient_figure({act: {v: runs[act][v]["init"] for v in VARIANTS} for act in ACTIVATIONS},
                                           title="gradient per layer at initialization (whole training set)",
                                           ylabel="||dL/dW_k||")

    init_fig.is_factory = True
    report.figure("init_gradients.png", init_fig, f"||dL/dW_k|| for the {D} hidden layers at initialization, one "
                  "line per variant (mean over seeds, band: lowest to highest seed), one panel per activation.",
                  size=(11.0, 4.0))

    def during_fig():
        panels = {act: {v: [(runs[act][v]["steps"], ratio(runs[act][v]["during"])[:, i])
                            for i in range(s["seeds"])] for v in VARIANTS} for act in ACTIVATIONS}
        fig = plots.curves_figure(panels, metric=f"||dL/dW_2|| / ||dL/dW_{D}||", logy=True,
                                  title="the gradient ratio during training (minibatch gradients)")
        return _outside(fig, band=True)

    during_fig.is_factory = True
    report.figure("ratio_during_training.png", during_fig, "Layer 2's gradient over layer "
                  f"{D}'s during training; the grey band is the healthy range [0.1, 10].", size=(11.0, 4.0))

    def acc_fig():
        panels = {act: {v: [(runs[act][v]["curve_steps"], row) for row in runs[act][v]["accuracy"]] for v in VARIANTS}
                  for act in ACTIVATIONS}
        return _outside(plots.curves_figure(panels, metric="accuracy", title="training accuracy"))

    acc_fig.is_factory = True
    report.figure("training_accuracy.png", acc_fig, "Training accuracy of each variant (mean over seeds, band: "
                  "lowest to highest seed), one panel per activation.", size=(11.0, 4.0))


def _outside(fig, band: bool = False):
    """One legend beside the last panel instead of one inside each (and the healthy band)."""
    for ax in fig.axes:
        if band:
            ax.axhspan(*HEALTHY, color="grey", alpha=0.08, lw=0)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    plots._legend_outside(fig.axes[-1])
    return fig
