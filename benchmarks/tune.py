"""Tuning inside one fit, measured (issue 16, items 1 and 2).

**Successive halving vs the full grid** (MLP on digits). Data: scikit-learn's 8x8 digits as rows
of 64 pixels, the stratified 70/30 split of ``glassnet.data.load("digits", part=...)``: 1,258
training images, 539 held out (the validation set both searches score on). Network
64-64(relu)-10, softmax cross-entropy, SGD, batch 32, ``max_steps`` updates (default 1,000,
about 25 epochs). Grid: lr {0.003, 0.01, 0.03, 0.1, 0.3} x momentum {0, 0.5, 0.9} x weight decay
{0, 1e-4, 1e-3} = 45 configurations, all from the same initial network and data order (one seed
per repeat). The full grid trains all 45 for ``max_steps`` (one ensemble of 45); successive
halving (eta 3, rungs ``max_steps/9``, ``/3``, ``max_steps``) keeps a third at each rung, once
synchronously (45 slots) and once refilling 9 slots. Reported per seed: the grid's best held-out
accuracy, the accuracy of the configuration halving picks, their difference, and model-steps
(steps trained, summed over configurations) and slot-steps (work the engine did) as shares of the
grid's.

**PBT vs the best fixed learning rate** (seed 003's 8-3-8 sigmoid autoencoder, weights and biases
from N(0, 0.01), half sum of squared errors, full-batch SGD). A population of 8 with learning
rates 0.5, 1, 2, ..., 64 trains ``pbt_steps`` updates (default 2,000) with the rates fixed; PBT
starts the same 8 networks at the same rates and every 100 steps lets the worst 2 copy one of the
best 2 and perturb its rate by 0.8 or 1.25. Reported per seed and averaged: the best final loss
of each population, and the largest rate on the path of PBT's best network.

Run from the repository root: ``python benchmarks/tune.py [--seeds 3] [--max-steps 1000]``
(``--skip-halving`` / ``--skip-pbt`` for one half; ``--json FILE`` writes the numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def digits_mlp(seeds):
    import glassnet as gn

    return gn.Sequential([gn.Dense(64, activation="relu"), gn.Dense(10)], input_shape=(64,), seed=seeds)


def halving_benchmark(seeds: int, max_steps: int) -> list[dict]:
    import glassnet as gn
    from glassnet import tune
    from glassnet.data import load

    tr, te = load("digits", flat=True, part="train"), load("digits", flat=True, part="test")
    configs = tune.grid(lr=[0.003, 0.01, 0.03, 0.1, 0.3], momentum=[0.0, 0.5, 0.9], weight_decay=[0.0, 1e-4, 1e-3])
    n = len(configs)
    loss = "softmax_cross_entropy"
    out = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        model = digits_mlp([seed] * n)
        opt = gn.SGD(lr=[c["lr"] for c in configs], momentum=[c["momentum"] for c in configs])
        gn.Trainer(model, tr.x, tr.y, loss=loss, optimizer=opt, batch_size=32, metrics=[],
                   weight_decay=[c["weight_decay"] for c in configs], log_every=max_steps).run(max_steps)
        acc = model.evaluate(te.x, te.y, loss)["accuracy"]
        grid_s = time.perf_counter() - t0
        g = int(np.argmax(acc))
        row = {"seed": seed, "configs": n, "grid_best": float(acc[g]), "grid_best_config": configs[g],
               "grid_model_steps": n * max_steps, "grid_seconds": grid_s}
        for label, slots in (("sync", None), ("refill", 9)):
            r = tune.successive_halving(digits_mlp, tr.x, tr.y, configs, validation_data=(te.x, te.y), loss=loss,
                                        min_steps=max_steps // 9, max_steps=max_steps, eta=3, slots=slots,
                                        batch_size=32, seed=seed)
            b = r.best
            row[label] = {"accuracy": b.score, "config": b.config, "gap": float(acc[g] - b.score),
                          "model_steps": r.model_steps, "slot_steps": r.slot_steps,
                          "model_share": r.model_steps / (n * max_steps), "slot_share": r.slot_steps / (n * max_steps),
                          "seconds": r.seconds, "rank_in_grid": int((acc > b.score).sum()) + 1}
        out.append(row)
        print(f"seed {seed}: grid best {acc[g]:.4f} {configs[g]} ({grid_s:.1f} s)")
        for label in ("sync", "refill"):
            h = row[label]
            print(f"  halving ({label:6s}): {h['accuracy']:.4f} {h['config']} gap {100 * h['gap']:+.2f} points, "
                  f"rank {h['rank_in_grid']} of {n}; model-steps {h['model_share']:.1%}, slot-steps "
                  f"{h['slot_share']:.1%} of the grid's; {h['seconds']:.1f} s")
    return out


def ae_fn(seeds):
    import glassnet as gn
    from glassnet.initializers import Normal

    return gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")], input_shape=(8,),
                         init=Normal(variance=0.01), bias_init=Normal(variance=0.01), seed=seeds, dtype="float64")


def pbt_benchmark(seeds: int, steps: int) -> list[dict]:
    import glassnet as gn
    from glassnet import tune
    from glassnet.data import load

    d = load("identity8", encoding="k", dtype="float64")
    lrs = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    out = []
    for s in range(seeds):
        member_seeds = [100 * s + i for i in range(len(lrs))]
        model = ae_fn(member_seeds)
        model.fit(d.x, d.y, loss="half_sse", optimizer=gn.SGD(lr=lrs), batch_size="full", steps=steps, metrics=[],
                  progress=False)
        fixed = model.evaluate(d.x, d.y, "half_sse")["loss"]
        r = tune.pbt(ae_fn, d.x, d.y, [{"lr": v} for v in lrs], steps=steps, interval=100, loss="half_sse",
                     seed=member_seeds, rng=s)
        _, path = r.schedule("lr")
        row = {"seed": s, "fixed_best": float(np.nanmin(fixed)), "fixed_best_lr": lrs[int(np.nanargmin(fixed))],
               "fixed_64": float(fixed[-1]), "pbt_best": r.best_score, "pbt_max_lr_on_path": float(path.max()),
               "copies": len(r.events), "pbt_seconds": r.seconds}
        out.append(row)
        print(f"seed {s}: best fixed lr {row['fixed_best_lr']:g} -> loss {row['fixed_best']:.3e} (lr 64 -> "
              f"{row['fixed_64']:.3f}); PBT -> {row['pbt_best']:.3e}, its best network's lr reached "
              f"{row['pbt_max_lr_on_path']:.0f}")
    f = np.array([r["fixed_best"] for r in out])
    p = np.array([r["pbt_best"] for r in out])
    print(f"mean over {seeds} seeds: best fixed {f.mean():.3e}, PBT {p.mean():.3e} ({f.mean() / p.mean():.1f}x lower); "
          f"PBT lower in {(p < f).sum()} of {seeds}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--pbt-seeds", type=int, default=5)
    ap.add_argument("--pbt-steps", type=int, default=2000)
    ap.add_argument("--skip-halving", action="store_true")
    ap.add_argument("--skip-pbt", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")  # small matrices: extra BLAS threads only contend
    except ImportError:
        pass
    result = {}
    if not a.skip_halving:
        result["halving"] = halving_benchmark(a.seeds, a.max_steps)
    if not a.skip_pbt:
        result["pbt"] = pbt_benchmark(a.pbt_seeds, a.pbt_steps)
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
