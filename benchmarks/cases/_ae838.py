"""Shared pieces of the 8-3-8 autoencoder cases (seed 003).

Maths (per model): x = y = I_8 (B = 8 samples), h = s(x W1 + b1), yhat = s(h W2 + b2),
s = logistic sigmoid, L = 1/B * sum_i 1/2 ||yhat_i - y_i||^2, full-batch SGD, lr 0.5.
Weights ~ N(0, 0.1^2), biases 0.
"""
from __future__ import annotations

N_IN, N_HID = 8, 3
BATCH = 8
LR = 0.5
STD = 0.1


def init_params(models: int, seed: int, dtype: str):
    """Reference initial parameters with the model axis first:
    W1 (M, 8, 3), b1 (M, 1, 3), W2 (M, 3, 8), b2 (M, 1, 8)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, STD, (models, N_IN, N_HID)).astype(dtype)
    W2 = rng.normal(0.0, STD, (models, N_HID, N_IN)).astype(dtype)
    b1 = np.zeros((models, 1, N_HID), dtype)
    b2 = np.zeros((models, 1, N_IN), dtype)
    return W1, b1, W2, b2


def data(dtype: str):
    import numpy as np

    x = np.eye(N_IN, dtype=dtype)
    return x, x.copy()


def loss_from_output(yhat, y):
    """Per-model half-SSE, mean over the batch; yhat (M, B, 8) or (B, 8) -> list of M floats."""
    import numpy as np

    yhat = np.asarray(yhat, dtype=np.float64)
    if yhat.ndim == 2:
        yhat = yhat[None]
    d = yhat - np.asarray(y, dtype=np.float64)
    return list(0.5 * (d * d).sum(-1).mean(-1))


def numpy_loss(params, x, y):
    """Per-model loss of the reference parameters, float64 (M,)."""
    import numpy as np

    W1, b1, W2, b2 = (np.asarray(p, np.float64) for p in params)
    x = np.asarray(x, np.float64)
    h = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
    yhat = 1.0 / (1.0 + np.exp(-(h @ W2 + b2)))
    return loss_from_output(yhat, y)


# --------------------------------------------------------------- torch building blocks
def torch_module(torch, W1, b1, W2, b2, dtype):
    """nn.Sequential(Linear(8,3), Sigmoid, Linear(3,8), Sigmoid) with the given (in, out)
    weights (one model's slice)."""
    nn = torch.nn
    net = nn.Sequential(nn.Linear(N_IN, N_HID), nn.Sigmoid(),
                        nn.Linear(N_HID, N_IN), nn.Sigmoid()).to(dtype)
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(W1.T.copy()))
        net[0].bias.copy_(torch.from_numpy(b1.reshape(-1).copy()))
        net[2].weight.copy_(torch.from_numpy(W2.T.copy()))
        net[2].bias.copy_(torch.from_numpy(b2.reshape(-1).copy()))
    return net


def torch_loss(yhat, y):
    """Idiomatic form of the half-SSE loss, mean over the batch."""
    return 0.5 * ((yhat - y) ** 2).sum(1).mean()


def glassnet_model(gn, models: int, seed: int, dtype: str):
    kw = dict(input_shape=(N_IN,), init=gn.init.Normal(std=STD), seed=seed, dtype=dtype)
    if models > 1:
        kw["models"] = models
    return gn.Sequential([gn.Dense(N_HID, activation="sigmoid"),
                          gn.Dense(N_IN, activation="sigmoid")], **kw)


def glassnet_runner(cfg, models: int):
    """glassnet implementation shared by the single and ensemble cases."""
    import numpy as np

    from benchmarks import harness
    from benchmarks.harness import glassnet_load_params, import_glassnet

    gn = import_glassnet()
    x, y = data(cfg.dtype)
    model = glassnet_model(gn, models, cfg.seed, cfg.dtype)
    if cfg.check:  # same initial weights as the reference loops
        ref = init_params(models, cfg.seed, cfg.dtype)
        glassnet_load_params(model, ref)
    opt = gn.SGD(lr=LR)

    kw = dict(x=x, y=y, loss="half_sse", optimizer=opt, batch_size=BATCH, shuffle=False,
              progress=False)

    def loss():
        return loss_from_output(np.asarray(model.predict(x)), y)

    return harness.glassnet_runner(model, kw, loss)


# --------------------------------------------------------------- JAX building blocks
def jax_setup(cfg, models: int, decays=None, lr: float = LR):
    """JAX pieces of the 8-3-8 cases: the initial parameters (model axis first, or without it for
    ``models == 0``: one model), the data, and the pure functions

    * ``step(params, x, y[, wd])``: one SGD step of one model (``grad`` of the loss, p - lr g);
    * ``losses(params, x, y)``: the loss of one model;

    with ``decays`` (per-model lambda, the seed's penalty lambda/2 sum W^2 on the weights) the step
    takes ``wd`` as a fourth argument. Returns (jax, jnp, info, params, x, y, step, loss)."""
    from benchmarks.harness import import_jax

    jax, info = import_jax(cfg)
    import jax.numpy as jnp

    def loss(p, x, y):
        W1, b1, W2, b2 = p
        h = jax.nn.sigmoid(x @ W1 + b1)
        o = jax.nn.sigmoid(h @ W2 + b2)
        return 0.5 * jnp.mean(jnp.sum((o - y) ** 2, axis=-1))

    def penalised(p, x, y, wd):
        return loss(p, x, y) + 0.5 * wd * (jnp.sum(p[0] ** 2) + jnp.sum(p[2] ** 2))

    grad = jax.grad(loss)
    grad_wd = jax.grad(penalised)

    if decays is None:
        def step(p, x, y):
            return tuple(q - lr * g for q, g in zip(p, grad(p, x, y)))
    else:
        def step(p, x, y, wd):
            return tuple(q - lr * g for q, g in zip(p, grad_wd(p, x, y, wd)))

    ref = init_params(max(models, 1), cfg.seed, cfg.dtype)
    params = tuple(jnp.asarray(a[0] if models == 0 else a) for a in ref)
    xn, yn = data(cfg.dtype)
    return jax, jnp, info, params, jnp.asarray(xn), jnp.asarray(yn), step, loss


def jax_runner(cfg, models: int, loop: bool, decays=None, lr: float = LR):
    """A JAX implementation: ``models == 0`` is one model without a model axis (jit), else
    ``vmap`` over the model axis (shared data; per-model ``decays``); ``loop`` compiles the whole
    n-step loop (``lax.fori_loop`` with n a traced argument: one compilation for every n),
    otherwise one jitted call per step. Every ``train(n)`` ends with ``block_until_ready``."""
    from benchmarks.harness import Runner, jax_first_call

    jax, jnp, info, params, x, y, step, loss = jax_setup(cfg, models, decays, lr)
    extra = ()
    if decays is not None:
        extra = (jnp.asarray(decays, dtype=x.dtype),)
    if models:
        step = jax.vmap(step, in_axes=(0, None, None) + (0,) * len(extra))
        loss = jax.vmap(loss, in_axes=(0, None, None))
    state = [params]
    if loop:
        def run(p, n, x, y, *e):
            return jax.lax.fori_loop(0, n, lambda i, q: step(q, x, y, *e), p)

        run = jax.jit(run)
        _, info["compile_s"] = jax_first_call(run, params, 1, x, y, *extra)

        def train(n):
            state[0] = jax.block_until_ready(run(state[0], n, x, y, *extra))
    else:
        one = jax.jit(step)
        _, info["compile_s"] = jax_first_call(one, params, x, y, *extra)

        def train(n):
            p = state[0]
            for _ in range(n):
                p = one(p, x, y, *extra)
            state[0] = jax.block_until_ready(p)

    loss_j = jax.jit(loss)

    def losses():
        v = jax.device_get(loss_j(state[0], x, y))
        return [float(t) for t in (v if models else [v])]

    return Runner(train, losses, info=info)
