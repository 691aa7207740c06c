"""A 41x41 loss slice as one batched evaluation vs 1,681 separate evaluations (issue 16.3).

``glassnet.landscape.slice_2d`` stacks the 1,681 parameter vectors of a 41x41 plane into one
ensemble and evaluates it in one forward pass on the model axis. The baselines evaluate the same
1,681 points one network at a time:

* ``loop``: one single-network model; for each point its parameters are written in place and
  ``loss.value(model.forward(x), y)`` is computed (the leanest loop the engine allows);
* ``evaluate``: the same, but through ``model.evaluate(x, y, loss)`` (what a user would write:
  inputs validated on every call).

Cases (trained briefly first, so the plane is around a real solution):

* ``ae838``: seed 003's 8-3-8 sigmoid autoencoder on its 8 patterns, half sum of squared errors;
* ``circle``: the ``loss-landscape`` study's 2-16-16-2 tanh network on 200 points of the circle set;
* ``mlp64``: a 64-64-10 ReLU network on 500 random 64-dimensional inputs (more arithmetic per
  point, the regime where batching gains least).

Each time is the best of ``--repeats`` runs (default 3); the batched and looped losses are checked
equal (to float32 rounding). BLAS threads: ``--threads`` (default 1; these are small matrices).
Run from the repository root: ``python benchmarks/landscape.py [--grid 41] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def case(name: str):
    import glassnet as gn
    from glassnet.data import load
    from glassnet.initializers import Normal

    if name == "ae838":
        d = load("identity8", encoding="k")
        model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                              input_shape=(8,), init=Normal(variance=0.01), bias_init=Normal(variance=0.01), seed=0)
        model.fit(d.x, d.y, loss="half_sse", optimizer=gn.SGD(lr=8.0), batch_size="full", steps=500, progress=False)
        return model, d.x, d.y, "half_sse"
    if name == "circle":
        d = load("circle", n=200, noise=0.1, seed=0)
        model = gn.Sequential([gn.Dense(16, activation="tanh"), gn.Dense(16, activation="tanh"), gn.Dense(2)],
                              input_shape=(2,), seed=0)
        model.fit(d.x, d.y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.5), batch_size=8, epochs=20,
                  progress=False)
        return model, d.x, d.y, "softmax_cross_entropy"
    if name == "mlp64":
        rng = np.random.default_rng(0)
        x = rng.standard_normal((500, 64)).astype(np.float32)
        y = (x[:, :10] + 0.5 * rng.standard_normal((500, 10))).argmax(axis=1)
        model = gn.Sequential([gn.Dense(64, activation="relu"), gn.Dense(10)], input_shape=(64,), seed=0)
        model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.1), batch_size=32, epochs=5, progress=False)
        return model, x, y, "softmax_cross_entropy"
    raise SystemExit(f"unknown case {name!r}")


def best(fn, repeats: int):
    t, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def run_case(name: str, grid: int, repeats: int) -> dict:
    import glassnet as gn
    from glassnet import landscape as L

    model, x, y, loss_name = case(name)
    rng = np.random.default_rng(1)
    dirs = [L.random_direction(model, rng) for _ in range(2)]
    g = np.linspace(-1, 1, grid)
    t_batch, sl = best(lambda: L.slice_2d(model, x, y, loss_name, directions=dirs, alphas=g), repeats)
    loss = gn.losses.get(loss_name)
    xs = model.prepare_inputs(x)
    ys = loss.prepare_targets(y, model.output_shape)
    ys = ys.astype(model.dtype) if np.issubdtype(ys.dtype, np.floating) else ys
    theta = L.point(model)
    single = L.ensemble(model, [t[None] for t in theta])   # one network, same architecture
    A, B = np.meshgrid(g, g, indexing="ij")
    coords = np.stack([A.ravel(), B.ravel()], axis=1)

    def loop():
        out = np.empty(len(coords))
        for i, (a, b) in enumerate(coords):
            for p, t, d1, d2 in zip(single.param_list, theta, *dirs):
                p.value[0] = t + a * d1 + b * d2
            out[i] = loss.value(single.forward(xs, False), ys)[0]
        return out

    plain = gn.Sequential([gn.layers.from_config(l.config()) for l in model.layers], input_shape=model.input_shape,
                          seed=0)

    def loop_evaluate():
        out = np.empty(len(coords))
        for i, (a, b) in enumerate(coords):
            for p, t, d1, d2 in zip(plain.param_list, theta, *dirs):
                p.value[0] = t + a * d1 + b * d2
            out[i] = plain.evaluate(x, y, loss_name)["loss"]
        return out

    t_loop, looped = best(loop, repeats)
    t_eval, evaluated = best(loop_evaluate, max(1, repeats - 1))
    diff = float(np.max(np.abs(looped - sl.loss.ravel()) / np.maximum(1e-6, np.abs(looped))))
    diff2 = float(np.max(np.abs(evaluated - sl.loss.ravel()) / np.maximum(1e-6, np.abs(evaluated))))
    row = {"case": name, "points": int(len(coords)), "samples": int(len(x)), "params": model.param_count(),
           "batched_s": t_batch, "chunks": sl.chunks, "loop_s": t_loop, "evaluate_loop_s": t_eval,
           "speedup_vs_loop": t_loop / t_batch, "speedup_vs_evaluate": t_eval / t_batch,
           "max_rel_diff": max(diff, diff2)}
    print(f"{name:7s} {grid}x{grid} = {len(coords):,} points, {len(x)} samples, {row['params']:,} params/net: "
          f"batched {t_batch * 1e3:8.1f} ms ({sl.chunks} pass{'es' if sl.chunks > 1 else ''}) | loop "
          f"{t_loop * 1e3:8.1f} ms ({row['speedup_vs_loop']:5.1f}x) | evaluate loop {t_eval * 1e3:8.1f} ms "
          f"({row['speedup_vs_evaluate']:5.1f}x) | max rel diff {row['max_rel_diff']:.1e}")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=41)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default="ae838,circle,mlp64")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(a.threads, user_api="blas")
    except ImportError:
        pass
    rows = [run_case(c, a.grid, a.repeats) for c in a.cases.split(",")]
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
