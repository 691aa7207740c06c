"""Study ``autoencoder-838`` (seed 003): the 8-3-8 sigmoid autoencoder, swept.

Setup from the seed: inputs are the 8 one-hot patterns, targets the same (k encoding) or the
k-1 encoding; hidden and output layers are sigmoids; weights (and the bias "weights") start from
N(0, variance 0.01); the objective is ``J = 1/m sum 1/2 ||h(x) - y||^2 + lambda/2 sum W^2``
(biases excluded), minimised by plain gradient descent at lr 0.01 for 400,000 iterations.

Sweeps (all seeds of a sweep train as one ensemble on the model axis):
weight decay lambda; k vs k-1; learning rate up to 5; batch size 8 (full) vs 1. The lambda = 0
runs double as the "k" and "batch 8" runs (same seeds, same settings).

The quick mode keeps every sweep but trains 8,000 steps at a base learning rate of 0.5 instead
of 400,000 at 0.01: lr x steps (the distance travelled along the gradient flow) is the same
4,000, so the base runs follow nearly the same path, plateau included, 50x faster.
"""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod
from ..data import from_one_hot
from ..initializers import Normal
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, by_config, grid
from .autoencoder_report import analyze
from .runconfig import DataRecipe


def _probe_fn(x, y, encoding):
    """Per-model numbers at each logged step: loss, decoded patterns and output spread on the full
    8-pattern set; the gradient norm is that of the step's own gradient (its batch, plus penalty)."""
    half_sse = losses_mod.get("half_sse")

    def fn(model):
        pred = model.forward(x, False)
        M = model.M
        gsq = sum((p.grad.reshape(M, -1) ** 2).sum(axis=1) for p in model.param_list)
        W = [p.value.reshape(M, -1) for p in model.param_list if p.regularize]
        b = [p.value.reshape(M, -1) for p in model.param_list if not p.regularize]
        decoded = from_one_hot(pred, encoding)
        out = {
            "loss": half_sse.value(pred, y),
            "correct": (decoded == np.arange(8)).sum(axis=1),
            "gnorm": np.sqrt(gsq),
            "w_abs": np.abs(np.concatenate(W, axis=1)).mean(axis=1),
            "b_abs": np.abs(np.concatenate(b, axis=1)).mean(axis=1),
            # how much the output depends on the input: 0 means one output for every pattern
            "out_spread": pred.std(axis=1).mean(axis=1),
        }
        return out

    return fn


def train(encoding: str, seeds, lr, weight_decay, batch_size: int, s: dict, recorder=None, note: str = "") -> dict:
    """Train one ensemble and return its curves ``(M, T)``, final parameters and statuses
    (``recorder``: a :class:`~glassnet.studies.recording.Recorder` that records the fit)."""
    recipe = DataRecipe("identity8", options={"encoding": encoding, "dtype": "float64"})
    data = recipe.load()
    x, y = data.x, data.y
    var = s["init_variance"]
    model = Sequential([Dense(3, activation="sigmoid"), Dense(y.shape[1], activation="sigmoid")],
                       input_shape=(8,), init=Normal(variance=var), bias_init=Normal(variance=var),
                       seed=list(seeds), dtype="float64")
    probe = Probe(_probe_fn(x, y, encoding))
    hist = model.fit(x, y, loss="half_sse", optimizer=SGD(lr=lr), weight_decay=weight_decay,
                     batch_size=batch_size, steps=s["steps"], log_every=s["log_every"], metrics=[],
                     callbacks=[probe] + ([recorder.callback(recipe, note)] if recorder is not None else []),
                     progress=False)
    out = {k: v.T for k, v in probe.values.items()}  # (M, T)
    out["steps"] = np.array(probe.steps)
    out["penalty"] = hist.curves["penalty"]
    out["status"] = np.array(hist.status)
    out["params"] = {p.name: p.value.copy() for p in model.param_list}
    out["param_count"] = model.param_count()
    out["seconds"] = hist.seconds
    h = model.layers[0].act.fn(x @ model.layers[0].W.value + model.layers[0].b.value[:, None, :])
    out["hidden"] = h  # (M, 8, 3) final hidden codes
    # the best constant output is the mean target; its loss is the plateau a network that
    # ignores its input sits on
    out["constant_loss"] = float(0.5 * y.var(axis=0).sum())
    return out


def _group(run: dict, n_configs: int) -> dict:
    """Reshape every per-model entry of a run to ``(C, S, ...)``."""
    g = {}
    for k, v in run.items():
        if k == "params":
            g[k] = {n: by_config(a, n_configs) for n, a in v.items()}
        elif isinstance(v, np.ndarray) and k != "steps" and v.ndim >= 1:
            g[k] = by_config(v, n_configs)
        else:
            g[k] = v
    return g


@register_study
class Autoencoder838(Study):
    name = "autoencoder-838"
    seed_file = "003_52fd57ac508f6957.txt"
    title = "the 8-3-8 sigmoid autoencoder: weight decay, k vs k-1, learning rate, batch size, plateau"
    summary = "seed 003: 8-3-8 autoencoder; weight decay, k vs k-1, lr up to 5, batch 1 vs 8, plateau, weights"

    def settings(self, quick, seeds):
        return {
            "seeds": seeds,
            "steps": 8_000 if quick else 400_000,
            "log_every": 16 if quick else 400,
            "base_lr": 0.5 if quick else 0.01,
            "weight_decays": [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
            "learning_rates": [0.01, 0.1, 0.5, 1.0, 2.0, 5.0],
            "batch_sizes": [8, 1],
            "threshold": 0.1,
            "init_variance": 0.01,
            "plateau_min_span": 0.05,
            "plateau_slope_tol": 0.3,
            "loss": "half_sse + lambda/2 sum W^2 (biases excluded)",
        }

    def measure(self, s, recorder):
        S = s["seeds"]
        wds, seeds = grid(s["weight_decays"], S)
        wd = _group(train("k", seeds, s["base_lr"], wds, 8, s, recorder, "weight decay sweep"), len(s["weight_decays"]))
        lrs, seeds = grid(s["learning_rates"], S)
        lr = _group(train("k", seeds, lrs, 0.0, 8, s, recorder, "learning rate sweep"), len(s["learning_rates"]))
        k1 = _group(train("k-1", range(S), s["base_lr"], 0.0, 8, s, recorder, "k-1 targets"), 1)
        b1 = _group(train("k", range(S), s["base_lr"], 0.0, 1, s, recorder, "batch size 1"), 1)
        i0 = s["weight_decays"].index(0.0)
        base = {k: (v[i0:i0 + 1] if isinstance(v, np.ndarray) and v.ndim >= 2 else v) for k, v in wd.items()}
        base["params"] = {n: a[i0:i0 + 1] for n, a in wd["params"].items()}
        return {"wd": wd, "lr": lr, "k1": k1, "b1": b1, "base": base}

    def analyze(self, data, settings, report):
        analyze(data, settings, report)


__all__ = ["Autoencoder838", "train"]
