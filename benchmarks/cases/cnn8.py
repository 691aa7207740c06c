"""cnn8 -- 8 small CNNs trained side by side on the model axis (different initialisations, the
same batch), softmax cross-entropy with integer labels, plain SGD lr 0.05, batch 64, float32.

    conv 3x3, 16 filters, padding "same" + ReLU -> max-pool 2x2   (16x16x3 -> 8x8x16)
    conv 3x3, 32 filters, padding "same" + ReLU -> global average pool (-> 32)
    dense 10 (logits)

Data: ONE fixed random batch (x ~ N(0, 1) of shape (64, 16, 16, 3), labels uniform in 0..9)
shared by all 8 models and trained on repeatedly; each model's loss is its own mean CE, so each
gets exactly its own gradient. One step = forward + backward + update of all 8 models.

Implementations:
* ``glassnet``: ``Sequential([...], models=8).fit`` -- one fit for all 8;
* ``torch_loop``: a Python loop over 8 ``nn.Sequential`` models, each with its own ``optim.SGD``;
* ``torch_vmap``: one ``nn.Sequential`` as a template, the 8 models' parameters stacked (8, ...),
  ``torch.func.vmap(torch.func.grad(loss))`` over them with ``functional_call``, then p -= lr g;
* ``jax_vmap``: one model's step (``grad``, SGD) ``vmap``-ed over stacked parameters, ``jit``-ed,
  ``lax.conv_general_dilated`` in NHWC/HWIO (glassnet's layout).

Check reference: there is no hand-written NumPy loop here, so ``--check`` compares every
implementation with ``glassnet_ref`` -- glassnet's readable NumPy reference path
(``GLASSNET_FAST=0``) in float64 from the same initial weights (its ``fit`` history).

Weights are shared for ``--check`` in glassnet's layout with the model axis first (kernels
``(M, kh, kw, cin, cout)``, dense ``(M, 32, 10)``) and converted for PyTorch (``(cout, cin, kh,
kw)`` and ``(10, 32)``).
"""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.harness import Runner

MODELS = 8
BATCH = 64
SIZE, CIN, F1, F2, CLASSES = 16, 3, 16, 32, 10
LR = 0.05

SPEC = {
    "name": "cnn8",
    "title": ("8 CNNs on the model axis, 16x16x3: conv3x3(16)+ReLU+maxpool2, conv3x3(32)+ReLU+"
              "global avg pool, dense 10; SGD, batch 64"),
    "unit": "training step of all 8 models (batch 64 each)",
    "models": MODELS,
    "repeats": 5,
    "quick_repeats": 3,
    "impls": {
        "glassnet": {"steps": 20, "quick": 2, "warmup": 2},
        "torch_loop": {"steps": 10, "quick": 2, "warmup": 1},
        "torch_vmap": {"steps": 20, "quick": 2, "warmup": 2},
        "jax_vmap": {"steps": 20, "quick": 2, "warmup": 2},
    },
    "check": {"ref": "glassnet_ref", "impls": ["glassnet", "torch_loop", "torch_vmap", "jax_vmap"],
              "steps": 5, "models": MODELS},
    "ratios": [
        {"a": "glassnet", "b": "torch_loop", "kind": "speedup", "target": 2.0},
        {"a": "glassnet", "b": "torch_vmap", "kind": "speedup", "target": 1.0},
        {"a": "glassnet", "b": "jax_vmap", "kind": "speedup", "target": 1.0},
        {"a": "torch_vmap", "b": "torch_loop", "kind": "speedup"},
    ],
}


def data(seed: int, dtype: str):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((BATCH, SIZE, SIZE, CIN)).astype(dtype)
    return x, rng.integers(0, CLASSES, BATCH)


def init_params(models: int, seed: int, dtype: str):
    """[W1, b1, W2, b2, W3, b3] in glassnet's layout with the model axis first,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default; one draw per model)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for shape, fan_in in (((3, 3, CIN, F1), 9 * CIN), ((3, 3, F1, F2), 9 * F1), ((F2, CLASSES), F2)):
        bound = 1.0 / np.sqrt(fan_in)
        out.append(rng.uniform(-bound, bound, (models,) + shape).astype(dtype))
        out.append(rng.uniform(-bound, bound, (models, shape[-1])).astype(dtype))
    return out


def per_model_ce(logits, labels):
    """Mean softmax CE of each model, float64; logits (M, B, 10)."""
    import numpy as np

    return [harness.numpy_ce(z, labels) for z in np.asarray(logits, np.float64)]


def glassnet(cfg):
    """glassnet ``Sequential(models=8).fit``: one call of `steps` steps per timed block."""
    import numpy as np

    gn = harness.import_glassnet()
    x, labels = data(cfg.seed, cfg.dtype)
    model = gn.Sequential([
        gn.Conv2D(F1, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(F2, 3, padding="same", activation="relu"), gn.GlobalAveragePooling2D(),
        gn.Dense(CLASSES),
    ], input_shape=(SIZE, SIZE, CIN), seed=cfg.seed, dtype=cfg.dtype, models=cfg.models)
    if cfg.check:
        harness.glassnet_load_params(model, init_params(cfg.models, cfg.seed, cfg.dtype))
    kw = dict(x=x, y=labels, loss="softmax_cross_entropy", optimizer=gn.SGD(lr=LR), batch_size=BATCH,
              shuffle=False, progress=False)

    def loss():
        return per_model_ce(np.asarray(model.predict(x)).reshape(cfg.models, BATCH, CLASSES), labels)

    return harness.glassnet_runner(model, kw, loss)


def _torch_weights(ref, m):
    """Model m's reference weights as PyTorch's tensors (conv OIHW, linear (out, in))."""
    W1, b1, W2, b2, W3, b3 = (a[m] for a in ref)
    return [W1.transpose(3, 2, 0, 1), b1, W2.transpose(3, 2, 0, 1), b2, W3.T, b3]


def _torch_net(torch, dtype):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(CIN, F1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(F1, F2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(F2, CLASSES)).to(dtype)


def _torch_data(torch, cfg):
    import numpy as np

    xn, ln = data(cfg.seed, cfg.dtype)
    return torch.from_numpy(np.ascontiguousarray(xn.transpose(0, 3, 1, 2))), torch.from_numpy(ln).long()


def torch_loop(cfg):
    """A Python loop over 8 ``nn.Sequential`` CNNs, each with its own ``optim.SGD``."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cfg.threads)
    ref = init_params(cfg.models, cfg.seed, cfg.dtype)
    nets = []
    for m in range(cfg.models):
        net = _torch_net(torch, getattr(torch, cfg.dtype))
        with torch.no_grad():
            for p, w in zip(net.parameters(), _torch_weights(ref, m)):
                p.copy_(torch.from_numpy(np.ascontiguousarray(w)))
        nets.append(net)
    pairs = [(net, torch.optim.SGD(net.parameters(), lr=LR)) for net in nets]
    x, labels = _torch_data(torch, cfg)

    def train(n):
        for _ in range(n):
            for net, opt in pairs:
                opt.zero_grad()
                F.cross_entropy(net(x), labels).backward()
                opt.step()

    def loss():
        with torch.no_grad():
            return [float(F.cross_entropy(net(x).double(), labels)) for net in nets]

    return Runner(train, loss)


def torch_vmap(cfg):
    """``torch.func``: parameters stacked (8, ...), ``vmap(grad(loss))`` with ``functional_call``
    on one template module, then an in-place SGD update of the stacks."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, grad, vmap

    torch.set_num_threads(cfg.threads)
    ref = init_params(cfg.models, cfg.seed, cfg.dtype)
    template = _torch_net(torch, getattr(torch, cfg.dtype))
    names = [n for n, _ in template.named_parameters()]
    per_model = [_torch_weights(ref, m) for m in range(cfg.models)]
    params = {n: torch.from_numpy(np.ascontiguousarray(np.stack([w[i] for w in per_model])))
              for i, n in enumerate(names)}
    x, labels = _torch_data(torch, cfg)

    def model_loss(p, x, labels):
        return F.cross_entropy(functional_call(template, p, (x,)), labels)

    grads_of = vmap(grad(model_loss), in_dims=(0, None, None))
    loss_of = vmap(model_loss, in_dims=(0, None, None))

    def train(n):
        for _ in range(n):
            g = grads_of(params, x, labels)
            with torch.no_grad():
                for k, p in params.items():
                    p.sub_(g[k], alpha=LR)

    def loss():
        with torch.no_grad():
            return [float(v) for v in loss_of({k: p.double() for k, p in params.items()},
                                              x.double(), labels)]

    return Runner(train, loss)


def jax_vmap(cfg):
    """JAX: one model's SGD step ``vmap``-ed over the stacked parameters and ``jit``-ed."""
    jax, info = harness.import_jax(cfg)
    import jax.numpy as jnp

    lax = jax.lax
    xn, ln = data(cfg.seed, cfg.dtype)
    x, labels = jnp.asarray(xn), jnp.asarray(ln)
    params = tuple(jnp.asarray(a) for a in init_params(cfg.models, cfg.seed, cfg.dtype))
    dn = ("NHWC", "HWIO", "NHWC")

    def logits(p, x):
        W1, b1, W2, b2, W3, b3 = p
        a = jax.nn.relu(lax.conv_general_dilated(x, W1, (1, 1), "SAME", dimension_numbers=dn) + b1)
        a = lax.reduce_window(a, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        a = jax.nn.relu(lax.conv_general_dilated(a, W2, (1, 1), "SAME", dimension_numbers=dn) + b2)
        return a.mean(axis=(1, 2)) @ W3 + b3

    def ce(p, x, labels):
        lp = jax.nn.log_softmax(logits(p, x))
        return -jnp.mean(jnp.take_along_axis(lp, labels[:, None], axis=1))

    def step(p, x, labels):
        return tuple(q - LR * g for q, g in zip(p, jax.grad(ce)(p, x, labels)))

    one = jax.jit(jax.vmap(step, in_axes=(0, None, None)))
    all_logits = jax.jit(jax.vmap(logits, in_axes=(0, None)))
    state = [params]
    _, info["compile_s"] = harness.jax_first_call(one, params, x, labels)

    def train(n):
        p = state[0]
        for _ in range(n):
            p = one(p, x, labels)
        state[0] = jax.block_until_ready(p)

    def loss():
        return per_model_ce(jax.device_get(all_logits(state[0], x)), ln)

    return Runner(train, loss, info=info)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
