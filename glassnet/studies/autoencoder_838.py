"""Study ``autoencoder-838`` (seed 003): the 8-3-8 sigmoid autoencoder, swept.

Setup from the seed: inputs and targets are the 8 one-hot patterns (k encoding) or, as in the
seed's k-1 network, both k-1 coded (7 columns, pattern 0 all zeros: a 7-3-7 net, 52 parameters);
k-1 targets on one-hot inputs (8-3-7, 55 parameters) separate the targets' part from the inputs';
hidden and output layers are sigmoids; weights (and the bias "weights") start from
N(0, variance 0.01); the objective is ``J = 1/m sum 1/2 ||h(x) - y||^2 + lambda/2 sum W^2``
(biases excluded), minimised by plain gradient descent at lr 0.01 for 400,000 iterations.

Sweeps (all seeds of a sweep train as one ensemble on the model axis):
weight decay lambda; k vs k-1; learning rate up to 5 (logged 10x more often up to step 40,000:
its fast runs cross the threshold within a few hundred steps; after that, at the other sweeps'
interval); batch size 8 (full) vs 1. The lambda = 0 runs double as
the "k" and "batch 8" runs and as the learning rate sweep's runs at the base rate (same seeds,
same settings). The initial weights are kept (the seed's
Figure 2 shows them).

How it trains (speed only; ``tests/studies/test_autoencoder_measure.py`` checks it changes no
number beyond rounding): the weight decay and learning rate sweeps differ only in per-model lr
and lambda, so they are one ensemble of 50 (:func:`shared_ensemble`), split afterwards; that fit
and the three small ones (k-1, k-1 targets, batch 1) run on one thread per core, the longest
first (:func:`~glassnet.studies.common.side_by_side`; the compiled training segments release
the GIL).

The quick mode keeps every sweep but trains 8,000 steps at a base learning rate of 0.5 instead
of 400,000 at 0.01: lr x steps (the distance travelled along the gradient flow) is the same
4,000, so the base runs follow nearly the same path, plateau included, 50x faster.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import losses as losses_mod
from ..data import from_one_hot
from ..initializers import Normal
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe, by_config, grid, side_by_side
from .autoencoder_report import analyze
from .runconfig import DataRecipe


def _probe_fn(x, y, encoding):
    """Per-model numbers at each logged step: loss, decoded patterns and output spread on the full
    8-pattern set; the gradient norm is that of the step's own gradient (its batch, plus penalty).

    ``loss_shared`` is the half SSE over the last 7 outputs only, the outputs of patterns 2-8 that
    both encodings have (k-1 drops pattern 1's column): k's loss sums 8 squared errors per pattern
    and k-1's 7, so only this one compares them term for term."""
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
            "loss_shared": 0.5 * ((pred[..., -7:] - y[..., -7:]) ** 2).sum(axis=-1).mean(axis=-1),
            "correct": (decoded == np.arange(8)).sum(axis=1),
            "gnorm": np.sqrt(gsq),
            "w_abs": np.abs(np.concatenate(W, axis=1)).mean(axis=1),
            "b_abs": np.abs(np.concatenate(b, axis=1)).mean(axis=1),
            # how much the output depends on the input: 0 means one output for every pattern
            "out_spread": pred.std(axis=1).mean(axis=1),
        }
        return out

    return fn


def recipe(encoding: str, input_encoding: str = "k") -> DataRecipe:
    """The 8 patterns, targets in ``encoding`` and inputs in ``input_encoding`` ("k" or "k-1")."""
    options = {"encoding": encoding, "dtype": "float64"}
    if input_encoding != "k":
        options["input_encoding"] = input_encoding
    return DataRecipe("identity8", options=options)


def train(encoding: str, seeds, lr, weight_decay, batch_size: int, s: dict, record=None,
          input_encoding: str = "k", log_every=None) -> dict:
    """Train one ensemble and return its curves ``(M, T)``, initial and final parameters and
    statuses (``record``: a callback that records the fit, from
    :meth:`~glassnet.studies.recording.Recorder.callback` on the same :func:`recipe`)."""
    data = recipe(encoding, input_encoding).load()
    x, y = data.x, data.y
    var = s["init_variance"]
    model = Sequential([Dense(3, activation="sigmoid"), Dense(y.shape[1], activation="sigmoid")],
                       input_shape=(x.shape[1],), init=Normal(variance=var), bias_init=Normal(variance=var),
                       seed=list(seeds), dtype="float64")
    init = {p.name: p.value.copy() for p in model.param_list}
    probe = Probe(_probe_fn(x, y, encoding))
    hist = model.fit(x, y, loss="half_sse", optimizer=SGD(lr=lr), weight_decay=weight_decay,
                     batch_size=batch_size, steps=s["steps"], log_every=s["log_every"] if log_every is None else log_every,
                     metrics=[],
                     callbacks=[probe] + ([record] if record is not None else []),
                     progress=False)
    out = {k: v.T for k, v in probe.values.items()}  # (M, T)
    out["steps"] = np.array(probe.steps)
    out["penalty"] = hist.curves["penalty"]
    out["status"] = np.array(hist.status)
    out["params"] = {p.name: p.value.copy() for p in model.param_list}
    out["init_params"] = init
    out["param_count"] = model.param_count()
    out["seconds"] = hist.seconds
    h = model.layers[0].act.fn(x @ model.layers[0].W.value + model.layers[0].b.value[:, None, :])
    out["hidden"] = h  # (M, 8, 3) final hidden codes
    # the best constant output is the mean target; its loss is the plateau a network that
    # ignores its input sits on (and the same over the 7 outputs both encodings share)
    out["constant_loss"] = float(0.5 * y.var(axis=0).sum())
    out["constant_loss_shared"] = float(0.5 * y[:, -7:].var(axis=0).sum())
    return out


def lr_log_steps(s: dict) -> np.ndarray:
    """The learning rate sweep's logged steps: every ``lr_log_every`` up to ``lr_fine_until``,
    and every ``log_every`` (the other sweeps' interval) throughout, so its slow runs are not
    logged 10x more densely than the weight decay sweep's lr-0.01 runs for no finding (and the
    weight decay runs in the shared ensemble keep all their own logs)."""
    fine = min(s["lr_fine_until"], s["steps"])
    return np.union1d(np.arange(0, fine, s["lr_log_every"]), np.arange(0, s["steps"], s["log_every"]))


def shared_ensemble(s: dict) -> dict:
    """The weight decay and learning rate sweeps as one ensemble (they differ only in per-model lr
    and lambda): its per-model ``seeds``, ``lr`` and ``lambda``, and the models of each sweep,
    ``wd_models`` and ``lr_models`` (index arrays, configuration-major, as :func:`by_config` reads
    them). The learning rate sweep's runs at the base rate are the weight decay sweep's lambda = 0
    runs (same seeds, same settings), so they are trained once and belong to both."""
    S, base_lr = s["seeds"], s["base_lr"]
    wds, wd_seeds = grid(s["weight_decays"], S)
    shared = base_lr in s["learning_rates"] and 0.0 in s["weight_decays"]
    own = [v for v in s["learning_rates"] if not (shared and v == base_lr)]
    lrs, lr_seeds = grid(own, S)
    n_wd = len(wds)
    lr_models, mine = [], iter(range(n_wd, n_wd + len(lrs)))
    for v in s["learning_rates"]:
        if shared and v == base_lr:
            i0 = s["weight_decays"].index(0.0)
            lr_models += range(i0 * S, i0 * S + S)
        else:
            lr_models += [next(mine) for _ in range(S)]
    return {"seeds": wd_seeds + lr_seeds, "lr": [base_lr] * n_wd + lrs, "lambda": wds + [0.0] * len(lrs),
            "wd_models": np.arange(n_wd), "lr_models": np.array(lr_models)}


def _subset(run: dict, models, log_every: int | None = None, logged_every: int | None = None) -> dict:
    """The models ``models`` (a slice or an index array) of a :func:`train` result, as if trained
    alone. With ``log_every``, a multiple of the run's own ``logged_every``, only the logs a run
    logging every ``log_every`` steps makes: the multiples of it, and the steps logged off the
    interval (the first and last)."""
    steps = run["steps"]
    keep = np.ones(len(steps), bool)
    if log_every is not None:
        keep = (steps % log_every == 0) | (steps % logged_every != 0)
        keep[-1] = True
    out = {}
    for key, v in run.items():
        if key in ("params", "init_params"):
            out[key] = {n: a[models] for n, a in v.items()}
        elif key == "steps":
            out[key] = steps[keep]
        elif isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] == len(steps):  # curves (M, T)
            out[key] = v[models][:, keep]
        elif isinstance(v, np.ndarray) and v.ndim >= 1:  # one entry per model
            out[key] = v[models]
        else:
            out[key] = v
    return out


def _group(run: dict, n_configs: int) -> dict:
    """Reshape every per-model entry of a run to ``(C, S, ...)``."""
    g = {}
    for k, v in run.items():
        if k in ("params", "init_params"):
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
            "lr_log_every": 16 if quick else 40,
            "lr_fine_until": 8_000 if quick else 40_000,
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
        S, base_lr = s["seeds"], s["base_lr"]
        shared = shared_ensemble(s)
        k, k1, k1t = recipe("k"), recipe("k-1", "k-1"), recipe("k-1")
        # the recording callbacks are made here, in this order, so the run store numbers the
        # fits the same way whichever of them ends first
        jobs = {
            # the weight decay and learning rate sweeps differ only in per-model settings (lr,
            # lambda), so they train as one ensemble of 50 (logged at the learning rate sweep's
            # steps; the weight decay runs keep their own interval's logs, see _subset). Listed
            # first: the longest job (see side_by_side)
            "wd_lr": partial(train, "k", shared["seeds"], shared["lr"], shared["lambda"], 8, s,
                             recorder.callback(k, "weight decay and learning rate sweeps, one ensemble"),
                             log_every=lr_log_steps(s)),
            "k1": partial(train, "k-1", range(S), base_lr, 0.0, 8, s,
                          recorder.callback(k1, "k-1 inputs and targets (7-3-7)"), input_encoding="k-1"),
            "k1t": partial(train, "k-1", range(S), base_lr, 0.0, 8, s,
                           recorder.callback(k1t, "k-1 targets, one-hot inputs (8-3-7)")),
            "b1": partial(train, "k", range(S), base_lr, 0.0, 1, s, recorder.callback(k, "batch size 1")),
        }
        runs = side_by_side(jobs)
        both = runs["wd_lr"]
        wd = _group(_subset(both, shared["wd_models"], s["log_every"], s["lr_log_every"]), len(s["weight_decays"]))
        lr = _group(_subset(both, shared["lr_models"]), len(s["learning_rates"]))
        k1, k1t, b1 = (_group(runs[name], 1) for name in ("k1", "k1t", "b1"))
        i0 = s["weight_decays"].index(0.0)
        base = {k: (v[i0:i0 + 1] if isinstance(v, np.ndarray) and v.ndim >= 2 else v) for k, v in wd.items()}
        for key in ("params", "init_params"):
            base[key] = {n: a[i0:i0 + 1] for n, a in wd[key].items()}
        return {"wd": wd, "lr": lr, "k1": k1, "k1_targets": k1t, "b1": b1, "base": base}

    def analyze(self, data, settings, report):
        analyze(data, settings, report)


__all__ = ["Autoencoder838", "lr_log_steps", "shared_ensemble", "train"]
