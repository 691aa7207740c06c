"""mlp784 -- MLP 784-256-256-10 (ReLU), softmax cross-entropy with integer labels,
SGD with momentum 0.9 (PyTorch form: v = mu v + g; p -= lr v), lr 0.01, batch 128.

Data: ONE fixed random batch of 128 samples (x ~ N(0, 1), labels uniform in 0..9)
trained on repeatedly (full batch, no shuffling), so only the per-step cost is measured.
This case is GEMM-bound (~0.16 GFLOP per step).
"""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.harness import Runner

SIZES = (784, 256, 256, 10)
BATCH = 128
LR = 0.01
MOMENTUM = 0.9

SPEC = {
    "name": "mlp784",
    "title": "MLP 784-256-256-10 ReLU, softmax CE, SGD momentum 0.9, lr 0.01, batch 128",
    "unit": "training step (batch 128)",
    "models": 1,
    "repeats": 7,
    "quick_repeats": 3,
    "impls": {
        "numpy_loop": {"steps": 400, "quick": 40},
        "torch_eager": {"steps": 300, "quick": 30},
        "glassnet": {"steps": 400, "quick": 40},
        "jax_step": {"steps": 400, "quick": 40},
    },
    "check": {"impls": ["numpy_loop", "torch_eager", "glassnet", "jax_step"], "steps": 10, "models": 1},
    "ratios": [
        {"a": "glassnet", "b": "numpy_loop", "kind": "time", "target": 1.05},
        {"a": "glassnet", "b": "torch_eager", "kind": "speedup"},
        {"a": "numpy_loop", "b": "torch_eager", "kind": "speedup"},
        {"a": "glassnet", "b": "jax_step", "kind": "speedup"},
    ],
}


def data(seed: int, dtype: str):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], BATCH)
    return x, labels


def init_params(seed: int, dtype: str):
    """[W1, b1, W2, b2, W3, b3], W as (in, out); U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as
    PyTorch's Linear default (the init is irrelevant to the timing, shared for --check)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        out.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        out.append(rng.uniform(-bound, bound, (fan_out,)).astype(dtype))
    return out


def numpy_loop(cfg):
    """Hand-written NumPy loop: preallocated buffers, 2-D np.dot with out= (transposed
    operands are passed as views; BLAS handles the transpose), fused softmax-CE
    gradient (p - onehot) / B, ReLU mask applied in place, PyTorch-form momentum."""
    import numpy as np

    dt = np.dtype(cfg.dtype)
    x, labels = data(cfg.seed, cfg.dtype)
    W1, b1, W2, b2, W3, b3 = params = init_params(cfg.seed, cfg.dtype)
    B = BATCH
    rows = np.arange(B)
    lr = dt.type(LR)
    mu = dt.type(MOMENTUM)
    inv_b = dt.type(1.0 / B)
    ones = np.ones((1, B), dt)
    z1 = np.empty((B, SIZES[1]), dt)
    z2 = np.empty((B, SIZES[2]), dt)
    z3 = np.empty((B, SIZES[3]), dt)
    mx = np.empty((B, 1), dt)
    sm = np.empty((B, 1), dt)
    d1, d2 = np.empty_like(z1), np.empty_like(z2)
    m1, m2 = np.empty(z1.shape, bool), np.empty(z2.shape, bool)
    grads = [np.empty_like(p) for p in params]
    gW1, gb1, gW2, gb2, gW3, gb3 = grads
    vel = [np.zeros_like(p) for p in params]
    tmp = [np.empty_like(p) for p in params]
    gb1r, gb2r, gb3r = gb1.reshape(1, -1), gb2.reshape(1, -1), gb3.reshape(1, -1)
    upd = list(zip(params, grads, vel, tmp))

    def train(n, dot=np.dot, add=np.add, sub=np.subtract, mul=np.multiply, exp=np.exp,
              div=np.divide, maximum=np.maximum, greater=np.greater):
        xT, z1T, z2T, W2T, W3T = x.T, z1.T, z2.T, W2.T, W3.T
        for _ in range(n):
            # forward
            dot(x, W1, out=z1); add(z1, b1, out=z1); maximum(z1, 0, out=z1)
            dot(z1, W2, out=z2); add(z2, b2, out=z2); maximum(z2, 0, out=z2)
            dot(z2, W3, out=z3); add(z3, b3, out=z3)
            # fused softmax + cross-entropy gradient: (softmax(z3) - onehot) / B
            z3.max(1, out=mx, keepdims=True); sub(z3, mx, out=z3); exp(z3, out=z3)
            z3.sum(1, out=sm, keepdims=True); div(z3, sm, out=z3)
            z3[rows, labels] -= 1; mul(z3, inv_b, out=z3)
            # backward
            dot(z2T, z3, out=gW3); dot(ones, z3, out=gb3r)
            dot(z3, W3T, out=d2); greater(z2, 0, out=m2); mul(d2, m2, out=d2)
            dot(z1T, d2, out=gW2); dot(ones, d2, out=gb2r)
            dot(d2, W2T, out=d1); greater(z1, 0, out=m1); mul(d1, m1, out=d1)
            dot(xT, d1, out=gW1); dot(ones, d1, out=gb1r)
            # SGD momentum (PyTorch form): v = mu v + g ; p -= lr v
            for p, g, v, t in upd:
                mul(v, mu, out=v); add(v, g, out=v); mul(v, lr, out=t); sub(p, t, out=p)

    def loss():
        a = x.astype(np.float64)
        for i in range(0, 6, 2):
            a = a @ params[i].astype(np.float64) + params[i + 1].astype(np.float64)
            if i < 4:
                a = np.maximum(a, 0.0)
        return [harness.numpy_ce(a, labels)]

    return Runner(train, loss)


def torch_eager(cfg):
    """Idiomatic PyTorch: nn.Sequential, F.cross_entropy, optim.SGD(momentum=0.9)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cfg.threads)
    tdt = getattr(torch, cfg.dtype)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                        nn.Linear(256, 10)).to(tdt)
    ref = init_params(cfg.seed, cfg.dtype)
    with torch.no_grad():
        for lin, (W, b) in zip((net[0], net[2], net[4]), zip(ref[0::2], ref[1::2])):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    xn, ln = data(cfg.seed, cfg.dtype)
    x, labels = torch.from_numpy(xn), torch.from_numpy(ln).long()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()

    def loss():
        with torch.no_grad():
            return [float(F.cross_entropy(net(x), labels))]

    return Runner(train, loss)


def glassnet(cfg):
    """glassnet Sequential.fit, one call of `steps` steps per timed block (the same
    optimizer object is reused across calls)."""
    gn = harness.import_glassnet()
    x, labels = data(cfg.seed, cfg.dtype)
    model = gn.Sequential([gn.Dense(256, activation="relu"), gn.Dense(256, activation="relu"),
                           gn.Dense(10)], input_shape=(784,), seed=cfg.seed, dtype=cfg.dtype)
    if cfg.check:
        harness.glassnet_load_params(model, init_params(cfg.seed, cfg.dtype))
    return harness.glassnet_classifier_runner(model, x, labels, gn.SGD(lr=LR, momentum=MOMENTUM), BATCH)


def jax_step(cfg):
    """JAX: one ``jit``-compiled step per Python call -- ``grad`` of the mean softmax CE
    (``log_softmax``), then PyTorch-form momentum v = mu v + g; p -= lr v."""
    jax, info = harness.import_jax(cfg)
    import jax.numpy as jnp

    x, labels = (jnp.asarray(a) for a in data(cfg.seed, cfg.dtype))
    params = tuple(jnp.asarray(a) for a in init_params(cfg.seed, cfg.dtype))

    def logits(p, x):
        W1, b1, W2, b2, W3, b3 = p
        a = jax.nn.relu(x @ W1 + b1)
        a = jax.nn.relu(a @ W2 + b2)
        return a @ W3 + b3

    def ce(p, x, labels):
        lp = jax.nn.log_softmax(logits(p, x))
        return -jnp.mean(jnp.take_along_axis(lp, labels[:, None], axis=1))

    @jax.jit
    def step(p, v, x, labels):
        g = jax.grad(ce)(p, x, labels)
        v = tuple(MOMENTUM * vi + gi for vi, gi in zip(v, g))
        return tuple(pi - LR * vi for pi, vi in zip(p, v)), v

    state = [params, tuple(jnp.zeros_like(p) for p in params)]
    _, info["compile_s"] = harness.jax_first_call(step, *state, x, labels)

    def train(n):
        p, v = state
        for _ in range(n):
            p, v = step(p, v, x, labels)
        state[:] = jax.block_until_ready((p, v))

    def loss():
        return [harness.numpy_ce(jax.device_get(logits(state[0], x)), jax.device_get(labels))]

    return Runner(train, loss, info=info)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
