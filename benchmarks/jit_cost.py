#!/usr/bin/env python
"""What the fast path's compilation costs: the first call, cold (empty cache) and warm (cached).

    python benchmarks/jit_cost.py            # every case, ~2-4 min on 2 quiet cores
    python benchmarks/jit_cost.py --only dense_loop

Each case is one small ``fit`` that reaches a family of compiled kernels, run in fresh processes:

* ``ref``: ``GLASSNET_FAST=0`` (no Numba import, no kernel): the baseline;
* ``cold``: the fast path with an empty Numba cache (``NUMBA_CACHE_DIR`` a new folder): import
  Numba, compile, save to the cache -- what a fresh install pays once per kernel signature;
* ``warm``: the same again with that cache: import Numba and load the compiled code -- what every
  new process pays.

The table gives each process's wall time of the fit call (the import of glassnet excluded) and
the difference from ``ref``. Numbers vary with machine load: rerun on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CASES = {
    # the compiled training segments (glassnet.fast.loop): 8-3-8, full batch, float32 and float64,
    # one model (the scalar kernel, glassnet.fast.dense_small) and 16 (the vectorized one)
    "dense_loop": """
import numpy as np, glassnet as gn
x = np.eye(8, dtype="float32")
for dtype in ("float32", "float64"):
    for models in (None, 16):
        m = gn.Sequential([gn.Dense(3, "sigmoid"), gn.Dense(8, "sigmoid")], input_shape=(8,), seed=0, dtype=dtype,
                          models=models)
        m.fit(x.astype(dtype), x.astype(dtype), loss="half_sse", optimizer=gn.SGD(0.5), batch_size="full",
              steps=200, log_every=100, progress=False)
""",
    # batched GEMMs of many small models (Dense and LSTM on the model axis, mini-batches)
    "model_axis_gemm": """
import numpy as np, glassnet as gn
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 20)).astype("float32"), rng.integers(0, 4, 64)
m = gn.Sequential([gn.Dense(32, "relu"), gn.Dense(4)], input_shape=(20,), seed=0, models=32)
m.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.Adam(1e-3), batch_size=16, steps=20, progress=False)
xs = rng.normal(size=(32, 10, 8)).astype("float32")
r = gn.Sequential([gn.LSTM(16), gn.Dense(4)], input_shape=(10, 8), seed=0, models=16)
r.fit(xs, rng.integers(0, 4, 32), loss="softmax_cross_entropy", optimizer=gn.SGD(0.01), batch_size=32, steps=5,
      progress=False)
""",
    # the LSTM's compiled segments (glassnet.fast.lstm_loop) and its per-step kernels, float32
    "lstm_loop": """
import numpy as np, glassnet as gn
rng = np.random.default_rng(0)
xs = rng.normal(size=(32, 10, 8)).astype("float32")
r = gn.Sequential([gn.LSTM(16), gn.Dense(4)], input_shape=(10, 8), seed=0, models=16, dtype="float32")
r.fit(xs, rng.integers(0, 4, 32), loss="softmax_cross_entropy", optimizer=gn.SGD(0.01), batch_size=32, steps=20,
      log_every=10, progress=False)
""",
    # convolution and pooling kernels
    "conv": """
import numpy as np, glassnet as gn
rng = np.random.default_rng(0)
x, y = rng.normal(size=(16, 16, 16, 3)).astype("float32"), rng.integers(0, 10, 16)
m = gn.Sequential([gn.Conv2D(8, 3, activation="relu"), gn.MaxPool2D(2), gn.Flatten(), gn.Dense(10)],
                  input_shape=(16, 16, 3), seed=0)
m.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.01), batch_size=16, steps=3, progress=False)
""",
}

CHILD = """
import time, json, sys
import glassnet
t = time.perf_counter()
exec(compile(sys.argv[1], "case", "exec"))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def run(code: str, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, code], env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"case failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="cases to run (default: all)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "GLASSNET_FAST"))}
    rows = []
    print(f"jit cost  {time.strftime('%Y-%m-%dT%H:%M:%S')}  load {os.getloadavg()[0]:.1f}")
    print(f"{'case':<16} {'ref s':>7} {'cold s':>7} {'warm s':>7} {'cold-ref':>9} {'warm-ref':>9}")
    for name in args.only or list(CASES):
        code = CASES[name]
        with tempfile.TemporaryDirectory() as cache:
            ref = run(code, {**base, "GLASSNET_FAST": "0"})
            cold = run(code, {**base, "NUMBA_CACHE_DIR": cache})
            warm = run(code, {**base, "NUMBA_CACHE_DIR": cache})
        rows.append({"case": name, "ref_s": ref, "cold_s": cold, "warm_s": warm})
        print(f"{name:<16} {ref:>7.2f} {cold:>7.2f} {warm:>7.2f} {cold - ref:>+9.2f} {warm - ref:>+9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
