"""ae838_single -- one 8-3-8 sigmoid autoencoder (seed 003), full-batch SGD.

x = y = I_8, W ~ N(0, 0.1^2), b = 0, L = 1/B sum_i 1/2 ||yhat_i - y_i||^2, lr 0.5.
One step = forward + backward + update on the whole 8-sample batch.  The arrays are
tiny, so this measures per-step interpreter/dispatch overhead, not arithmetic.
"""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.harness import Runner
from benchmarks.cases import _ae838 as ae

SPEC = {
    "name": "ae838_single",
    "title": "8-3-8 sigmoid autoencoder, 1 model, full batch (8), SGD lr 0.5",
    "unit": "training step",
    "models": 1,
    "repeats": 7,
    "quick_repeats": 3,
    "impls": {
        "numpy_loop": {"steps": 20000, "quick": 2000},
        "torch_eager": {"steps": 4000, "quick": 400},
        "glassnet": {"steps": 20000, "quick": 2000},
        "jax_step": {"steps": 20000, "quick": 2000},
        # the whole loop is one compiled call: more steps per block to time it
        "jax_loop": {"steps": 200000, "quick": 20000},
    },
    "check": {"impls": ["numpy_loop", "torch_eager", "glassnet", "jax_step", "jax_loop"],
              "steps": 10, "models": 1},
    # kind "speedup": a's model-steps/s / b's (higher is better, target is a minimum);
    # kind "time":    a's time per model-step / b's (lower is better, target is a maximum).
    "ratios": [
        {"a": "glassnet", "b": "torch_eager", "kind": "speedup", "target": 6.0, "stretch": 10.0},
        {"a": "glassnet", "b": "numpy_loop", "kind": "time", "target": 1.15},
        {"a": "numpy_loop", "b": "torch_eager", "kind": "speedup"},
        {"a": "glassnet", "b": "jax_step", "kind": "speedup", "target": 1.0},
        {"a": "glassnet", "b": "jax_loop", "kind": "speedup", "target": 0.5},
    ],
}


def numpy_loop(cfg):
    """Hand-written minimal NumPy loop: preallocated buffers, every op in place (out=),
    2-D np.dot (cheaper per call than np.matmul on tiny arrays), bound local names."""
    import numpy as np

    dt = np.dtype(cfg.dtype)
    x, y = ae.data(cfg.dtype)
    xT = np.ascontiguousarray(x.T)
    W1, b1, W2, b2 = (p[0] for p in ae.init_params(1, cfg.seed, cfg.dtype))
    b1 = b1.reshape(-1).copy()
    b2 = b2.reshape(-1).copy()
    W1 = W1.copy()
    W2 = W2.copy()
    B = x.shape[0]
    lr = dt.type(ae.LR)
    inv_b = dt.type(1.0 / B)
    h = np.empty((B, ae.N_HID), dt)
    o = np.empty((B, ae.N_IN), dt)
    d2 = np.empty_like(o)
    t2 = np.empty_like(o)
    dh = np.empty_like(h)
    t1 = np.empty_like(h)
    gW1, gb1 = np.empty_like(W1), np.empty_like(b1)
    gW2, gb2 = np.empty_like(W2), np.empty_like(b2)
    W2T = W2.T  # a view: follows the in-place updates of W2
    hT = h.T

    def train(n, dot=np.dot, add=np.add, sub=np.subtract, mul=np.multiply, neg=np.negative,
              exp=np.exp, rec=np.reciprocal, red=np.add.reduce):
        for _ in range(n):
            # forward: h = s(x W1 + b1), o = s(h W2 + b2), s(z) = 1 / (1 + exp(-z))
            dot(x, W1, out=h); add(h, b1, out=h)
            neg(h, out=h); exp(h, out=h); add(h, 1, out=h); rec(h, out=h)
            dot(h, W2, out=o); add(o, b2, out=o)
            neg(o, out=o); exp(o, out=o); add(o, 1, out=o); rec(o, out=o)
            # backward: d2 = dL/dz2 = (o - y)/B * o(1 - o)
            sub(o, y, out=d2); sub(1, o, out=t2); mul(t2, o, out=t2); mul(d2, t2, out=d2)
            mul(d2, inv_b, out=d2)
            dot(hT, d2, out=gW2); red(d2, 0, None, gb2)
            # dh = dL/dz1 = (d2 W2^T) * h(1 - h)
            dot(d2, W2T, out=dh); sub(1, h, out=t1); mul(t1, h, out=t1); mul(dh, t1, out=dh)
            dot(xT, dh, out=gW1); red(dh, 0, None, gb1)
            # update: p -= lr * g
            mul(gW1, lr, out=gW1); sub(W1, gW1, out=W1)
            mul(gb1, lr, out=gb1); sub(b1, gb1, out=b1)
            mul(gW2, lr, out=gW2); sub(W2, gW2, out=W2)
            mul(gb2, lr, out=gb2); sub(b2, gb2, out=b2)

    def loss():
        return ae.numpy_loss((W1[None], b1[None, None], W2[None], b2[None, None]), x, y)

    return Runner(train, loss)


def torch_eager(cfg):
    """Idiomatic PyTorch: nn.Sequential, the loss as an expression, optim.SGD."""
    import torch

    torch.set_num_threads(cfg.threads)
    tdt = getattr(torch, cfg.dtype)
    W1, b1, W2, b2 = (p[0] for p in ae.init_params(1, cfg.seed, cfg.dtype))
    net = ae.torch_module(torch, W1, b1, W2, b2, tdt)
    xn, yn = ae.data(cfg.dtype)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    opt = torch.optim.SGD(net.parameters(), lr=ae.LR)

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            loss = ae.torch_loss(net(x), y)
            loss.backward()
            opt.step()

    def loss():
        with torch.no_grad():
            return [float(ae.torch_loss(net(x), y))]

    return Runner(train, loss)


def glassnet(cfg):
    """glassnet Sequential.fit, one call of `steps` steps per timed block."""
    return ae.glassnet_runner(cfg, models=1)


def jax_step(cfg):
    """JAX: one ``jit``-compiled SGD step (``grad`` of the loss, p - lr g) per Python call."""
    return ae.jax_runner(cfg, models=0, loop=False)


def jax_loop(cfg):
    """JAX: the whole n-step loop compiled as one call (``lax.fori_loop`` inside ``jit``)."""
    return ae.jax_runner(cfg, models=0, loop=True)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
