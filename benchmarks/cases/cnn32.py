"""cnn32 -- small CNN on 32x32x3 images (issue 3), softmax cross-entropy with integer labels,
plain SGD lr 0.01, batch 64, float32.

    conv 3x3, 32 filters, padding "same" + ReLU -> max-pool 2x2  (32x32x3 -> 16x16x32)
    conv 3x3, 64 filters, padding "same" + ReLU -> max-pool 2x2  (-> 8x8x64)
    flatten (4096) -> dense 10 (logits)

Data: ONE fixed random batch (x ~ N(0, 1), labels uniform in 0..9) trained on repeatedly, so
only the per-step cost (forward + backward + update) is measured. ~2 GFLOP per step, most of it
in the second convolution.

Implementations:
* ``torch_eager``: nn.Conv2d/ReLU/MaxPool2d/Linear (NCHW, oneDNN kernels), optim.SGD;
* ``glassnet``: ``Sequential([Conv2D, MaxPool2D, Conv2D, MaxPool2D, Flatten, Dense]).fit``;
* ``numpy_loop``: the plain NumPy CNN the issue measured (~3x slower than PyTorch): patches
  by ``sliding_window_view`` + ``tensordot``, gradients folded back offset by offset, pooling
  by reshape and an equality mask. It is the float64 reference of ``--check`` too.

Weights are shared by all three for ``--check`` in glassnet's layout (kernels ``(kh, kw, cin,
cout)``, the dense kernel ``(4096, 10)`` over channels-last (h, w, c) features) and converted
for PyTorch (``(cout, cin, kh, kw)``, and the dense columns permuted to PyTorch's (c, h, w)
flatten order).
"""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.harness import Runner

BATCH = 64
SIZE, CIN, F1, F2, CLASSES = 32, 3, 32, 64, 10
LR = 0.01

SPEC = {
    "name": "cnn32",
    "title": "CNN 32x32x3: conv3x3(32)+ReLU+maxpool2, conv3x3(64)+ReLU+maxpool2, dense 10; SGD, batch 64",
    "unit": "training step (batch 64)",
    "models": 1,
    "repeats": 5,
    "quick_repeats": 3,
    "impls": {
        "numpy_loop": {"steps": 5, "quick": 2, "warmup": 1},
        "torch_eager": {"steps": 20, "quick": 4, "warmup": 3},
        "glassnet": {"steps": 20, "quick": 4, "warmup": 3},
    },
    "check": {"impls": ["numpy_loop", "torch_eager", "glassnet"], "steps": 5, "models": 1},
    # speedup = torch time / glassnet time: target parity with PyTorch, stretch 1.3x (issue 17)
    "ratios": [
        {"a": "glassnet", "b": "torch_eager", "kind": "speedup", "target": 1.0, "stretch": 1.3},
        {"a": "glassnet", "b": "numpy_loop", "kind": "speedup"},
        {"a": "numpy_loop", "b": "torch_eager", "kind": "speedup"},
    ],
}


def data(seed: int, dtype: str):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((BATCH, SIZE, SIZE, CIN)).astype(dtype)
    return x, rng.integers(0, CLASSES, BATCH)


def init_params(seed: int, dtype: str):
    """[W1, b1, W2, b2, W3, b3] in glassnet's layout, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as
    PyTorch's default (the init is irrelevant to the timing; shared for --check)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for shape, fan_in in (((3, 3, CIN, F1), 9 * CIN), ((3, 3, F1, F2), 9 * F1),
                          (((SIZE // 4) ** 2 * F2, CLASSES), (SIZE // 4) ** 2 * F2)):
        bound = 1.0 / np.sqrt(fan_in)
        out.append(rng.uniform(-bound, bound, shape).astype(dtype))
        out.append(rng.uniform(-bound, bound, shape[-1:]).astype(dtype))
    return out


def numpy_loop(cfg):
    """The plain im2col CNN in NumPy, written the textbook way (no preallocation)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    x, labels = data(cfg.seed, cfg.dtype)
    params = init_params(cfg.seed, cfg.dtype)
    B, rows = BATCH, np.arange(BATCH)

    def conv(a, W, b):  # 'same' 3x3: pad, unfold (B, H, W, C, 3, 3), contract (i, j, c)
        ap = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
        cols = sliding_window_view(ap, (3, 3), axis=(1, 2))
        return np.tensordot(cols, W, axes=([4, 5, 3], [0, 1, 2])) + b, cols

    def conv_back(dz, cols, W, need_dx):
        dW = np.tensordot(cols, dz, axes=([0, 1, 2], [0, 1, 2])).transpose(1, 2, 0, 3)
        db = dz.sum(axis=(0, 1, 2))
        if not need_dx:
            return None, dW, db
        H, Wd = dz.shape[1:3]
        dcols = np.tensordot(dz, W, axes=([3], [3]))  # (B, H, W, 3, 3, C)
        dxp = np.zeros((B, H + 2, Wd + 2, W.shape[2]), dz.dtype)
        for i in range(3):
            for j in range(3):
                dxp[:, i:i + H, j:j + Wd] += dcols[:, :, :, i, j]
        return dxp[:, 1:-1, 1:-1], dW, db

    def pool(a):  # 2x2/2; ties (zeros after ReLU) only route gradient into dead ReLUs
        n, H, W, C = a.shape
        y = a.reshape(n, H // 2, 2, W // 2, 2, C).max(axis=(2, 4))
        return y

    def pool_back(dy, a, y):
        n, H, W, C = a.shape
        mask = a.reshape(n, H // 2, 2, W // 2, 2, C) == y[:, :, None, :, None, :]
        return (mask * dy[:, :, None, :, None, :]).reshape(a.shape)

    def forward(ps):
        W1, b1, W2, b2, W3, b3 = ps
        z1, c1 = conv(x, W1, b1)
        a1 = np.maximum(z1, 0)
        p1 = pool(a1)
        z2, c2 = conv(p1, W2, b2)
        a2 = np.maximum(z2, 0)
        p2 = pool(a2)
        logits = p2.reshape(B, -1) @ W3 + b3
        return logits, (z1, c1, a1, p1, z2, c2, a2, p2)

    def train(n):
        for _ in range(n):
            W1, b1, W2, b2, W3, b3 = params
            logits, (z1, c1, a1, p1, z2, c2, a2, p2) = forward(params)
            e = np.exp(logits - logits.max(1, keepdims=True))
            d = e / e.sum(1, keepdims=True)
            d[rows, labels] -= 1
            d /= B
            g3, gb3 = p2.reshape(B, -1).T @ d, d.sum(0)
            dp2 = (d @ W3.T).reshape(p2.shape)
            dz2 = pool_back(dp2, a2, p2) * (z2 > 0)
            dp1, g2, gb2 = conv_back(dz2, c2, W2, True)
            dz1 = pool_back(dp1, a1, p1) * (z1 > 0)
            _, g1, gb1 = conv_back(dz1, c1, W1, False)
            for p, g in zip(params, (g1, gb1, g2, gb2, g3, gb3)):
                p -= (LR * g).astype(p.dtype)

    def loss():
        return [harness.numpy_ce(forward(params)[0], labels)]

    return Runner(train, loss)


def torch_eager(cfg):
    """Idiomatic PyTorch: nn.Sequential of Conv2d/ReLU/MaxPool2d/Flatten/Linear, optim.SGD."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cfg.threads)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(CIN, F1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(F1, F2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear((SIZE // 4) ** 2 * F2, CLASSES)).to(getattr(torch, cfg.dtype))
    W1, b1, W2, b2, W3, b3 = init_params(cfg.seed, cfg.dtype)
    s = SIZE // 4
    W3t = W3.reshape(s, s, F2, CLASSES).transpose(3, 2, 0, 1).reshape(CLASSES, -1)  # (h,w,c) -> (c,h,w)
    with torch.no_grad():
        for mod, w in ((net[0].weight, W1.transpose(3, 2, 0, 1)), (net[0].bias, b1),
                       (net[3].weight, W2.transpose(3, 2, 0, 1)), (net[3].bias, b2),
                       (net[7].weight, W3t), (net[7].bias, b3)):
            mod.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    xn, ln = data(cfg.seed, cfg.dtype)
    x = torch.from_numpy(np.ascontiguousarray(xn.transpose(0, 3, 1, 2)))
    labels = torch.from_numpy(ln).long()
    opt = torch.optim.SGD(net.parameters(), lr=LR)

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()

    def loss():
        with torch.no_grad():
            return [float(F.cross_entropy(net(x).double(), labels))]

    return Runner(train, loss)


def glassnet(cfg):
    """glassnet Sequential.fit, one call of `steps` steps per timed block."""
    gn = harness.import_glassnet()
    x, labels = data(cfg.seed, cfg.dtype)
    model = gn.Sequential([
        gn.Conv2D(F1, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(F2, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Flatten(), gn.Dense(CLASSES),
    ], input_shape=(SIZE, SIZE, CIN), seed=cfg.seed, dtype=cfg.dtype)
    if cfg.check:
        harness.glassnet_load_params(model, init_params(cfg.seed, cfg.dtype))
    return harness.glassnet_classifier_runner(model, x, labels, gn.SGD(lr=LR), BATCH)


harness.add_reference_impls(SPEC)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
