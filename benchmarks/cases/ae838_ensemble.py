"""ae838_ensemble -- 1,000 8-3-8 sigmoid autoencoders trained together (same maths as
ae838_single, one independent initialisation per model, shared data, full batch).

Reported as model-steps per second (models x steps / s).
"""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.harness import Runner
from benchmarks.cases import _ae838 as ae

SPEC = {
    "name": "ae838_ensemble",
    "title": "1,000 x 8-3-8 sigmoid autoencoders trained together, full batch, SGD lr 0.5",
    "unit": "training step of all models",
    "models": 1000,
    "repeats": 7,
    "quick_repeats": 3,
    "impls": {
        "numpy_loop": {"steps": 1000, "quick": 100},
        "torch_bmm": {"steps": 300, "quick": 30},
        # a Python loop over 1,000 nn.Modules: time only a few steps of the loop
        "torch_loop": {"steps": 10, "quick": 1, "warmup": 1, "repeats": 5},
        "glassnet": {"steps": 1000, "quick": 100},
        "jax_vmap": {"steps": 1000, "quick": 100},
        "jax_vmap_loop": {"steps": 1000, "quick": 100},
    },
    "check": {"impls": ["numpy_loop", "torch_bmm", "torch_loop", "glassnet", "jax_vmap",
                        "jax_vmap_loop"],
              "steps": 10, "models": 3},
    "ratios": [
        {"a": "glassnet", "b": "torch_bmm", "kind": "speedup", "target": 2.0, "stretch": 3.0},
        {"a": "glassnet", "b": "torch_loop", "kind": "speedup", "target": 100.0},
        {"a": "glassnet", "b": "numpy_loop", "kind": "time"},
        {"a": "numpy_loop", "b": "torch_bmm", "kind": "speedup"},
        {"a": "glassnet", "b": "jax_vmap", "kind": "speedup", "target": 1.0},
        {"a": "glassnet", "b": "jax_vmap_loop", "kind": "speedup", "target": 1.0},
    ],
}


def numpy_loop(cfg):
    """Hand-written NumPy loop batched over a leading model axis (np.matmul broadcasting).

    Lean choices, measured on this machine (M = 1000):
    * bias gradients as ones(1, B) @ d   -- ~3.5x faster than d.sum(axis=1) (a
      reduction over a short middle axis is slow in NumPy);
    * the transposed operands of the backward matmuls (h^T, W2^T) are copied to
      contiguous buffers first -- stacked matmul on transposed views is ~2.5x slower;
    * sigmoid as 0.5 * tanh(0.5 z) + 0.5 (cheaper than 1 / (1 + exp(-z)) on big arrays);
    * all buffers preallocated, every op in place.
    """
    import numpy as np

    M = cfg.models
    dt = np.dtype(cfg.dtype)
    x, y = ae.data(cfg.dtype)
    xT = np.ascontiguousarray(x.T)
    W1, b1, W2, b2 = (p.copy() for p in ae.init_params(M, cfg.seed, cfg.dtype))
    B = x.shape[0]
    lr = dt.type(ae.LR)
    inv_b = dt.type(1.0 / B)
    half = dt.type(0.5)
    ones = np.ones((1, B), dt)
    h = np.empty((M, B, ae.N_HID), dt)
    o = np.empty((M, B, ae.N_IN), dt)
    d2, t2 = np.empty_like(o), np.empty_like(o)
    dh, t1 = np.empty_like(h), np.empty_like(h)
    hT = np.empty((M, ae.N_HID, B), dt)
    W2T = np.empty((M, ae.N_IN, ae.N_HID), dt)
    gW1, gb1, gW2, gb2 = (np.empty_like(p) for p in (W1, b1, W2, b2))

    def train(n, mm=np.matmul, add=np.add, sub=np.subtract, mul=np.multiply, tanh=np.tanh,
              copyto=np.copyto):
        for _ in range(n):
            # forward (x is shared by all models: (B, 8) @ (M, 8, 3) broadcasts)
            mm(x, W1, out=h); add(h, b1, out=h)
            mul(h, half, out=h); tanh(h, out=h); mul(h, half, out=h); add(h, half, out=h)
            mm(h, W2, out=o); add(o, b2, out=o)
            mul(o, half, out=o); tanh(o, out=o); mul(o, half, out=o); add(o, half, out=o)
            # backward
            sub(o, y, out=d2); sub(1, o, out=t2); mul(t2, o, out=t2); mul(d2, t2, out=d2)
            mul(d2, inv_b, out=d2)
            copyto(hT, h.transpose(0, 2, 1)); mm(hT, d2, out=gW2); mm(ones, d2, out=gb2)
            copyto(W2T, W2.transpose(0, 2, 1)); mm(d2, W2T, out=dh)
            sub(1, h, out=t1); mul(t1, h, out=t1); mul(dh, t1, out=dh)
            mm(xT, dh, out=gW1); mm(ones, dh, out=gb1)
            # update
            mul(gW1, lr, out=gW1); sub(W1, gW1, out=W1)
            mul(gb1, lr, out=gb1); sub(b1, gb1, out=b1)
            mul(gW2, lr, out=gW2); sub(W2, gW2, out=W2)
            mul(gb2, lr, out=gb2); sub(b2, gb2, out=b2)

    def loss():
        return ae.numpy_loss((W1, b1, W2, b2), x, y)

    return Runner(train, loss)


def torch_bmm(cfg):
    """Stacked leaf tensors W1 (M,8,3), b1 (M,1,3), W2 (M,3,8), b2 (M,1,8); forward with
    torch.matmul (batched) + sigmoid, autograd backward, torch.optim.SGD over the stacks.
    The loss is the SUM over models of each model's mean loss, so every model gets
    exactly its own gradient."""
    import torch

    torch.set_num_threads(cfg.threads)
    params = [torch.from_numpy(p.copy()).requires_grad_()
              for p in ae.init_params(cfg.models, cfg.seed, cfg.dtype)]
    W1, b1, W2, b2 = params
    xn, yn = ae.data(cfg.dtype)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    opt = torch.optim.SGD(params, lr=ae.LR)

    def forward():
        h = torch.sigmoid(torch.matmul(x, W1) + b1)
        return torch.sigmoid(torch.matmul(h, W2) + b2)

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            yhat = forward()
            loss = (0.5 * ((yhat - y) ** 2).sum(-1).mean(-1)).sum()
            loss.backward()
            opt.step()

    def loss():
        with torch.no_grad():
            return (0.5 * ((forward() - y) ** 2).sum(-1).mean(-1)).tolist()

    return Runner(train, loss)


def torch_loop(cfg):
    """A Python loop over M separate nn.Sequential models, each with its own optim.SGD."""
    import torch

    torch.set_num_threads(cfg.threads)
    tdt = getattr(torch, cfg.dtype)
    W1, b1, W2, b2 = ae.init_params(cfg.models, cfg.seed, cfg.dtype)
    nets = [ae.torch_module(torch, W1[m], b1[m], W2[m], b2[m], tdt) for m in range(cfg.models)]
    opts = [torch.optim.SGD(net.parameters(), lr=ae.LR) for net in nets]
    pairs = list(zip(nets, opts))
    xn, yn = ae.data(cfg.dtype)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    torch_loss = ae.torch_loss

    def train(n):
        for _ in range(n):
            for net, opt in pairs:
                opt.zero_grad()
                loss = torch_loss(net(x), y)
                loss.backward()
                opt.step()

    def loss():
        with torch.no_grad():
            return [float(torch_loss(net(x), y)) for net in nets]

    return Runner(train, loss)


def glassnet(cfg):
    """glassnet Sequential(models=M).fit, one call of `steps` steps per timed block."""
    return ae.glassnet_runner(cfg, models=cfg.models)


def jax_vmap(cfg):
    """JAX: one model's SGD step, ``vmap``-ed over the stacked parameters (M, ...) and ``jit``-ed;
    one call per step (shared data)."""
    return ae.jax_runner(cfg, models=cfg.models, loop=False)


def jax_vmap_loop(cfg):
    """JAX: the vmapped step inside ``lax.fori_loop``: the whole n-step loop is one call."""
    return ae.jax_runner(cfg, models=cfg.models, loop=True)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
