"""sweep003 -- the full seed-003 weight-decay sweep through glassnet's sweep machinery, against
the same sweep as a loop of PyTorch runs.

The sweep (``examples/seed003_weight_decay.toml``): 8-3-8 sigmoid autoencoder, weights
N(0, variance 0.01), zero biases, half-SSE loss plus lambda/2 * sum(W^2) over weights (biases
excluded), full-batch SGD with lr 0.01, lambda in {0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1} x 5 seeds =
30 runs of 400,000 steps.

* ``glassnet_sweep``: ONE timed block is the whole sweep exactly as ``glassnet sweep`` runs it
  (config load, planning, the local process pool with ``--threads`` workers, training, SQLite
  store, weight files) with ``training.steps`` = the block's steps (400,000: the full sweep),
  into a fresh store. The per-step time is the sweep's wall time / 400,000. The 1-step call
  (``call_1step_s``) is the fixed cost of the machinery.
* ``torch_loop``: 30 ``nn.Sequential`` models trained one after another, each with its own
  ``torch.optim.SGD`` (weight decay in a parameter group holding only the weights, which is the
  seed's penalty). Timing the full loop would take ~30 x 50 s, so a measured subset of steps per
  model is timed and the full sweep is ESTIMATED as (time per step of all 30 runs) x 400,000; the
  ratio compares per-step times of this same run.
* ``torch_bmm``: the 30 models stacked into batched tensors in one torch process (information).
"""
from __future__ import annotations

import os
import sys
import tempfile

from benchmarks import harness
from benchmarks.cases import _ae838 as ae
from benchmarks.harness import Runner

LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
SEEDS = 5
LR = 0.01
FULL_STEPS = 400_000
CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "examples", "seed003_weight_decay.toml")

SPEC = {
    "name": "sweep003",
    "title": "seed-003 weight-decay sweep: 6 lambda x 5 seeds x 400k full-batch steps (8-3-8 AE, SGD lr 0.01)",
    "unit": "training step of all 30 runs",
    "models": len(LAMBDAS) * SEEDS,
    "repeats": 3,
    "quick_repeats": 1,
    "impls": {
        # one block = the full sweep; warmup 0 so the block includes starting the process pool
        "glassnet_sweep": {"steps": FULL_STEPS, "quick": 20_000, "repeats": 1, "warmup": 0},
        # measured subset; the full loop is estimated from it (see the module docstring)
        "torch_loop": {"steps": 1000, "quick": 100, "warmup": 20},
        "torch_bmm": {"steps": 2000, "quick": 200, "warmup": 50},
        # the 30 models stacked and vmapped; per-step calls, and the whole loop compiled
        "jax_vmap": {"steps": 4000, "quick": 400, "warmup": 50},
        "jax_vmap_loop": {"steps": 40000, "quick": 4000, "warmup": 50},
    },
    # the sweep itself cannot replay given weights (its seeds draw them), so the check compares
    # the loops over the same 30 initialisations against torch_loop (weight decay in SGD)
    "check": {"ref": "torch_loop", "impls": ["torch_loop", "torch_bmm", "jax_vmap", "jax_vmap_loop"],
              "steps": 10, "models": 30},
    "ratios": [
        {"a": "glassnet_sweep", "b": "torch_loop", "kind": "speedup", "target": 50.0},
        {"a": "glassnet_sweep", "b": "torch_bmm", "kind": "speedup"},
        {"a": "glassnet_sweep", "b": "jax_vmap", "kind": "speedup"},
        {"a": "glassnet_sweep", "b": "jax_vmap_loop", "kind": "speedup", "target": 1.0},
    ],
}


def _decays():
    return [wd for wd in LAMBDAS for _ in range(SEEDS)]


def glassnet_sweep(cfg):
    """``run_sweep`` on the example config with ``training.steps = n``, into a fresh store."""
    harness.import_glassnet()
    from glassnet.experiments import RunStore, load_config, run_sweep

    root = tempfile.mkdtemp(prefix="glassnet-sweep003-")
    info = {"config": os.path.relpath(CONFIG), "workers": cfg.threads}
    last = {}

    def train(n):
        if n < 1:
            return
        conf = load_config(CONFIG, [("training.steps", int(n)), ("model.dtype", cfg.dtype)])
        with RunStore(tempfile.mkdtemp(dir=root)) as st:
            rep = run_sweep(conf, st, workers=cfg.threads, progress=False, echo=None)
            runs = [st.run(r.id) for r in rep.plan.runs]
            jobs = {r["job"]: r["cpu_seconds"] for r in runs}
        assert len(rep.trained) == len(runs) == SPEC["models"], rep
        if n > 1:  # not the 1-step overhead calls
            last["losses"] = [r["metrics"]["train_loss"] for r in runs]
            # CPU seconds of the busiest job: the wall time the sweep would take on idle cores
            info.update(sweep_s=rep.seconds, steps=n, jobs=rep.jobs, job_cpu_s=sorted(jobs.values()),
                        statuses=sorted({r["status"] for r in runs}))

    def loss():
        return last["losses"]

    return Runner(train, loss, fit_overhead=True, info=info)


def torch_loop(cfg):
    """30 separate models, one after another: the sweep as a loop of PyTorch runs."""
    import torch

    torch.set_num_threads(cfg.threads)
    tdt = getattr(torch, cfg.dtype)
    M = SPEC["models"]
    W1, b1, W2, b2 = ae.init_params(M, cfg.seed, cfg.dtype)
    nets = [ae.torch_module(torch, W1[m], b1[m], W2[m], b2[m], tdt) for m in range(M)]
    opts = [torch.optim.SGD([{"params": [net[0].weight, net[2].weight], "weight_decay": wd},
                             {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}], lr=LR)
            for net, wd in zip(nets, _decays())]
    xn, yn = ae.data(cfg.dtype)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    torch_loss = ae.torch_loss

    def train(n):
        for net, opt in zip(nets, opts):  # run after run, as a loop of separate trainings
            for _ in range(n):
                opt.zero_grad()
                loss = torch_loss(net(x), y)
                loss.backward()
                opt.step()

    def loss():
        with torch.no_grad():
            return [float(torch_loss(net(x), y)) for net in nets]

    return Runner(train, loss, info={"estimate": "full sweep = measured time per step of all 30 runs x 400,000"})


def torch_bmm(cfg):
    """The 30 models as stacked tensors (M, in, out) in one torch process; weight decay as the
    seed's penalty on the weights, added to the loss."""
    import torch

    torch.set_num_threads(cfg.threads)
    params = [torch.from_numpy(p.copy()).requires_grad_()
              for p in ae.init_params(SPEC["models"], cfg.seed, cfg.dtype)]
    W1, b1, W2, b2 = params
    wd = torch.tensor(_decays(), dtype=getattr(torch, cfg.dtype))
    xn, yn = ae.data(cfg.dtype)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    opt = torch.optim.SGD(params, lr=LR)

    def per_model():
        h = torch.sigmoid(torch.matmul(x, W1) + b1)
        out = torch.sigmoid(torch.matmul(h, W2) + b2)
        return 0.5 * ((out - y) ** 2).sum(-1).mean(-1)

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            penalty = 0.5 * wd * ((W1 ** 2).sum((1, 2)) + (W2 ** 2).sum((1, 2)))
            (per_model() + penalty).sum().backward()
            opt.step()

    def loss():
        with torch.no_grad():
            return per_model().tolist()

    return Runner(train, loss)


def jax_vmap(cfg):
    """JAX: the 30 models stacked (M, ...), one model's step (loss + lambda/2 sum W^2, SGD lr
    0.01) ``vmap``-ed with each model's lambda and ``jit``-ed; one call per step."""
    return ae.jax_runner(cfg, models=SPEC["models"], loop=False, decays=_decays(), lr=LR)


def jax_vmap_loop(cfg):
    """JAX: the vmapped step inside ``lax.fori_loop``: the whole n-step loop is one call."""
    return ae.jax_runner(cfg, models=SPEC["models"], loop=True, decays=_decays(), lr=LR)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
